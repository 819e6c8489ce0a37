"""Exceptions handlers raise to steer the job's outcome."""


class PermanentJobError(Exception):
    """Fail the job now, without retrying (bad payload, project gone or suspended...)."""


class JobCancelled(Exception):
    """Stop the handler: staff asked to cancel the job (raised by JobContext.check_cancelled)."""


class JobTimeout(BaseException):
    """Stop the handler past its timeout (a BaseException, so `except Exception` misses it)."""
