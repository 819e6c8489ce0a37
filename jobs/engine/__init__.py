"""The seam to django-q2: the only code in the project that imports `django_q`.

Everything else in `jobs/` calls this small API (tests/jobs/test_engine_contract.py pins
each django-q2 behaviour it relies on, so an upgrade that changes one fails by name):

- `hand_off(job_ids)`: queue one django-q2 task per job (`handoff.py`);
- `QUEUE_TABLE`, `delivery_ack_id`, `delivery_acknowledged`: the worker's claim deletes
  its delivery's queue row itself, so the monitor has nothing left to acknowledge
  (`broker.py`, which also holds the batched dequeue);
- `schedules_sync`, `schedule_next_runs`: django-q2's scheduler as the clock of our
  recurring jobs, and when it fires each one next;
- `live_clusters`, `live_cluster_details`, `task_rows_prune`: status and housekeeping of
  the engine's own rows;
- `cluster.ClusterRunner` / `cluster.stopping`: the qcluster's process life cycle (imported
  from `jobs.engine.cluster` by the command and the worker only).
"""

from jobs.engine.broker import QUEUE_TABLE, delivery_ack_id, delivery_acknowledged
from jobs.engine.handoff import TASK_FUNC, hand_off
from jobs.engine.schedules import FIRE_FUNC, schedule_next_runs, schedule_rows, schedules_sync
from jobs.engine.status import live_cluster_details, live_clusters, task_rows_prune

__all__ = [
    "FIRE_FUNC",
    "QUEUE_TABLE",
    "TASK_FUNC",
    "delivery_ack_id",
    "delivery_acknowledged",
    "hand_off",
    "live_cluster_details",
    "live_clusters",
    "schedule_next_runs",
    "schedule_rows",
    "schedules_sync",
    "task_rows_prune",
]
