"""The SVG charts: scale, labels, escaping, empty states."""

from __future__ import annotations

from console.charts import Series, _nice_max, colours_for, paired_bars, stacked_bars


def test_nice_max__rounds_up_to_1_2_5() -> None:
    assert [_nice_max(v) for v in (0, 0.3, 1, 7, 12, 480, 2001)] == [1, 0.5, 1, 10, 20, 500, 5000]


def test_stacked_bars__stacks_series_and_escapes_names() -> None:
    chart = stacked_bars(
        labels=["a", "b"],
        series=[
            Series("<script>x</script>", [1, 0], "#111"),
            Series("two", [3, 2], "#222"),
        ],
        title="t",
    )
    svg = str(chart.svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<rect") == 3  # zero values draw nothing
    assert chart.total == 6
    assert chart.legend == [("<script>x</script>", "#111"), ("two", "#222")]
    assert ">5</text>" in svg  # the axis top: the tallest stack (4) rounded up


def test_stacked_bars__says_when_empty() -> None:
    chart = stacked_bars(labels=["a"], series=[], title="t")
    assert "nothing yet" in str(chart.svg) and chart.legend == []


def test_paired_bars__one_row_per_type() -> None:
    chart = paired_bars(
        rows=[("export", 1.0, 4.0), ("prune", 0.5, 0.6)],
        fmt=lambda v: f"{v:g} s",
        first="p50",
        second="p95",
        title="t",
    )
    svg = str(chart.svg)
    assert svg.count('class="p50"') == 2 and "export p95: 4 s" in svg


def test_colours_for__stable_by_name() -> None:
    assert colours_for(["b", "a"]) == colours_for(["a", "b"])
