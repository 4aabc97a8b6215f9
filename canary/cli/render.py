"""How Rollouts look on a terminal: kubectl-like tables, one-line summaries, the detail view.

Everything here is a function of the object(s), their Events and ``now`` — no I/O — so
the tests compare strings. Plain renderers (``table``, ``summary``, ``detail_lines``) are
for pipes and CI logs; ``*_renderable`` build the rich objects the live view (``get -w``
on a TTY) redraws on every watch event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from canary.core.phases import FAILED_PHASES, Cond, Phase

Obj = Mapping[str, Any]

COLUMNS = ("NAME", "PHASE", "STEP", "WEIGHT", "EFFECTIVE", "AGE")
WIDE_COLUMNS = ("STABLE", "CANARY", "MESSAGE")
SHOWN_CONDITIONS = (
    Cond.ROUTE_READY,
    Cond.SPLIT_VERIFIED,
    Cond.HEALTHY,
    Cond.AWAITING_PROMOTION,
    Cond.COMPLETED,
    Cond.INVALID,
    Cond.ROLLBACK_CONFIRMED,
    Cond.DATA_PLANE_DIVERGENCE,  # only on routes whose data plane has a profile (Traefik)
)
# Conditions whose True is the finding (their message is shown when True, not when False).
TRUE_IS_A_FINDING = frozenset({Cond.DATA_PLANE_DIVERGENCE, Cond.INVALID})


def _noteworthy(c: Mapping[str, Any]) -> bool:
    """Is the condition's message worth a line: a False one, or a True finding?"""
    finding = c.get("type") in TRUE_IS_A_FINDING
    return bool(c.get("message")) and (c.get("status") == "True") == finding


def _condition_style(c: Mapping[str, Any]) -> str:
    on_true, on_false = ("red", "green") if c.get("type") in TRUE_IS_A_FINDING else ("green", "red")
    return {"True": on_true, "False": on_false}.get(str(c.get("status")), "yellow")


_PHASE_STYLE: dict[str, str] = {
    Phase.SUCCEEDED: "bold green",
    Phase.PROGRESSING: "cyan",
    Phase.PENDING: "yellow",
    Phase.PAUSED: "yellow",
    Phase.ROLLING_BACK: "bold red",
    Phase.ROLLED_BACK: "bold red",
    Phase.ABORTED: "bold red",
    Phase.FAILED: "bold red",
}


# --------------------------------------------------------------------------- fields


def meta(obj: Obj) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def status(obj: Obj) -> Mapping[str, Any]:
    value = obj.get("status")
    return value if isinstance(value, Mapping) else {}


def spec(obj: Obj) -> Mapping[str, Any]:
    value = obj.get("spec")
    return value if isinstance(value, Mapping) else {}


def key(obj: Obj) -> str:
    return f"{meta(obj).get('namespace', '')}/{meta(obj).get('name', '')}"


def phase(obj: Obj) -> str:
    return str(status(obj).get("phase") or "")


def condition(obj: Obj, type_: str) -> Mapping[str, Any] | None:
    for cond in status(obj).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return cond
    return None


def percent(value: Any) -> str:
    """``50`` → ``50%``, ``4.76`` → ``4.8%``, missing → ``-``."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    text = f"{float(value):.1f}".removesuffix(".0")
    return f"{text}%"


def backend(ref: Any) -> str:
    if not isinstance(ref, Mapping):
        return "-"
    name = str(ref.get("name", "-"))
    if ref.get("namespace"):
        name = f"{ref['namespace']}/{name}"
    return f"{name}:{ref['port']}" if ref.get("port") else name


def parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(created: Any, now: dt.datetime) -> str:
    """kubectl's short human duration (``45s``, ``5m30s``, ``3h``, ``2d4h``, ``40d``)."""
    start = parse_time(created)
    if start is None:
        return "<unknown>"
    seconds = max(0, int((now - start).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- tables


def row(obj: Obj, *, now: dt.datetime, wide: bool, all_namespaces: bool) -> list[str]:
    s = status(obj)
    cells = [
        str(meta(obj).get("name", "")),
        phase(obj) or "<none>",
        str(s.get("stepLabel") or "-"),
        "-" if s.get("canaryWeight") is None else str(s.get("canaryWeight")),
        percent(s.get("effectiveWeight")),
        age(meta(obj).get("creationTimestamp"), now),
    ]
    if wide:
        cells += [
            backend(spec(obj).get("stable")),
            backend(spec(obj).get("canary")),
            str(s.get("message") or ""),
        ]
    if all_namespaces:
        cells.insert(0, str(meta(obj).get("namespace", "")))
    return cells


def headers(*, wide: bool, all_namespaces: bool) -> list[str]:
    out = list(COLUMNS) + (list(WIDE_COLUMNS) if wide else [])
    return (["NAMESPACE"] if all_namespaces else []) + out


def table(
    objs: Sequence[Obj], *, now: dt.datetime, wide: bool = False, all_namespaces: bool = False
) -> str:
    """kubectl's plain table: upper-case headers, columns 3 spaces apart, left-aligned."""
    rows = [headers(wide=wide, all_namespaces=all_namespaces)] + [
        row(o, now=now, wide=wide, all_namespaces=all_namespaces) for o in objs
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join(
        "   ".join(f"{cell:<{widths[c]}}" for c, cell in enumerate(r)).rstrip() for r in rows
    )


def table_renderable(
    objs: Sequence[Obj], *, now: dt.datetime, wide: bool = False, all_namespaces: bool = False
) -> Table:
    out = Table(box=None, pad_edge=False, header_style="bold")
    cols = headers(wide=wide, all_namespaces=all_namespaces)
    for col in cols:
        out.add_column(col, no_wrap=col != "MESSAGE")
    ph = cols.index("PHASE")
    for obj in objs:
        cells: list[str | Text] = list(row(obj, now=now, wide=wide, all_namespaces=all_namespaces))
        cells[ph] = Text(str(cells[ph]), style=_PHASE_STYLE.get(phase(obj), ""))
        out.add_row(*cells)
    return out


# --------------------------------------------------------------------------- one line


def summary(obj: Obj) -> str:
    """``Progressing step 2/3 weight 50 (effective 50%, observed 49.1%): message``."""
    s = status(obj)
    if not s.get("phase"):
        return "not yet observed by the operator"
    parts = [str(s["phase"])]
    if s.get("stepLabel") and s.get("stepLabel") != "-":
        parts.append(f"step {s['stepLabel']}")
    if s.get("canaryWeight") is not None:
        weights = [f"effective {percent(s.get('effectiveWeight'))}"]
        if s.get("observedWeight") is not None:
            weights.append(f"observed {percent(s.get('observedWeight'))}")
        parts.append(f"weight {s['canaryWeight']} ({', '.join(weights)})")
    gate = condition(obj, Cond.AWAITING_PROMOTION)
    if gate and gate.get("status") == "True" and "promot" not in str(s.get("message", "")):
        parts.append("awaiting promotion")
    if s.get("phase") == Phase.PAUSED and s.get("pauseReason"):
        parts.append(f"[{s['pauseReason']}]")
    line = " ".join(parts)
    return f"{line}: {s['message']}" if s.get("message") else line


def change_line(obj: Obj, *, now: dt.datetime, event: str = "MODIFIED") -> str:
    """A timestamped plain line for logs: ``2024-05-01T10:00:00Z ns/name Progressing …``."""
    text = "deleted" if event == "DELETED" else summary(obj)
    return f"{stamp(now)} {key(obj)} {text}"


# --------------------------------------------------------------------------- detail


def step_marks(obj: Obj) -> list[tuple[str, str]]:
    """(label, state) per step; state: done, active, gate, failed, pending."""
    steps = [s for s in spec(obj).get("steps") or [] if isinstance(s, Mapping)]
    s = status(obj)
    index = s.get("stepIndex")
    ph = phase(obj)
    gate = condition(obj, Cond.AWAITING_PROMOTION)
    out: list[tuple[str, str]] = []
    for i, step in enumerate(steps):
        label = f"{step.get('weight')}%" + (f" {step['pause']}" if step.get("pause") else " gate")
        if ph == Phase.SUCCEEDED or (isinstance(index, int) and i < index):
            state = "done"
        elif isinstance(index, int) and i == index:
            if ph in FAILED_PHASES or ph == Phase.ROLLING_BACK:
                state = "failed"
            elif gate and gate.get("status") == "True":
                state = "gate"
            else:
                state = "active"
        else:
            state = "pending"
        out.append((label, state))
    return out


_MARK = {"done": "✓", "active": "●", "gate": "⏸", "failed": "✗", "pending": "○"}
_MARK_STYLE = {
    "done": "green",
    "active": "cyan",
    "gate": "yellow",
    "failed": "red",
    "pending": "dim",
}


def last_measurements(obj: Obj) -> list[tuple[str, Mapping[str, Any]]]:
    out = []
    for metric in status(obj).get("analysis") or []:
        if isinstance(metric, Mapping) and metric.get("measurements"):
            out.append((str(metric.get("name", "")), metric["measurements"][-1]))
    return out


def _num(value: Any) -> str:
    if value is None or not isinstance(value, int | float):
        return "-"
    return f"{value:.4g}"


def measurement_line(name: str, m: Mapping[str, Any]) -> str:
    stable = f" (stable {_num(m.get('stableValue'))})" if m.get("stableValue") is not None else ""
    return (
        f"{name}: {_num(m.get('value'))}{stable} vs {m.get('bound') or 'none'} → "
        f"{m.get('verdict', '?')}{' (dry run)' if m.get('dryRun') else ''}, "
        f"{m.get('samples', 0)} samples" + (f" — {m['message']}" if m.get("message") else "")
    )


def event_line(event: Mapping[str, Any], now: dt.datetime) -> str:
    when = (
        event.get("lastTimestamp") or event.get("eventTime") or meta(event).get("creationTimestamp")
    )
    count = event.get("count") or 1
    times = f" (x{count})" if count > 1 else ""
    return (
        f"{age(when, now):>6} {event.get('type', ''):<7} {event.get('reason', '')}: "
        f"{event.get('message', '')}{times}"
    )


def detail_lines(obj: Obj, events: Sequence[Mapping[str, Any]], *, now: dt.datetime) -> list[str]:
    """The detail view as plain lines (``canary status NAME``)."""
    s = status(obj)
    sp = spec(obj)
    lines = [
        f"Rollout {key(obj)}",
        f"  Phase:       {summary(obj)}",
        f"  Backends:    stable {backend(sp.get('stable'))} → canary {backend(sp.get('canary'))}",
        "  Steps:       "
        + "  ".join(f"{_MARK[state]} {label}" for label, state in step_marks(obj)),
        f"  Weights:     desired {percent(s.get('canaryWeight'))}  "
        f"effective {percent(s.get('effectiveWeight'))}  "
        f"observed {percent(s.get('observedWeight'))}",
    ]
    measured = last_measurements(obj)
    if measured:
        lines.append("  Analysis:")
        lines += [f"    {measurement_line(n, m)}" for n, m in measured]
    conds = [condition(obj, c) for c in SHOWN_CONDITIONS]
    lines.append(
        "  Conditions:  "
        + "  ".join(f"{c.get('type')}={c.get('status')}" for c in conds if c is not None)
    )
    for c in conds:
        if c is not None and _noteworthy(c):
            lines.append(f"    {c.get('type')}: {c.get('reason', '')} — {c.get('message')}")
    last = s.get("lastCommand")
    if isinstance(last, Mapping):
        lines.append(f"  Last command: {last.get('verb')} ({last.get('id')}): {last.get('result')}")
    if events:
        lines.append("  Events:")
        lines += [f"    {event_line(e, now)}" for e in events]
    return lines


def detail_renderable(
    obj: Obj, events: Sequence[Mapping[str, Any]], *, now: dt.datetime
) -> RenderableType:
    """The live view of one Rollout: steps as a progress bar, weights, checks, events."""
    s = status(obj)
    sp = spec(obj)
    title = Text.assemble(
        (f"Rollout {key(obj)}  ", "bold"),
        (phase(obj) or "not yet observed", _PHASE_STYLE.get(phase(obj), "")),
        f"  step {s.get('stepLabel') or '-'}",
        f"  {stamp(now)}",
    )
    weight = s.get("canaryWeight")
    bar = ProgressBar(total=100, completed=float(weight or 0), width=50)
    steps = Text("  ").join(
        Text(f"{_MARK[state]} {label}", style=_MARK_STYLE[state])
        for label, state in step_marks(obj)
    )
    weights = Table.grid(padding=(0, 2))
    weights.add_row(
        Text("canary weight", style="bold"),
        f"desired {percent(weight)}",
        f"effective {percent(s.get('effectiveWeight'))}",
        f"observed {percent(s.get('observedWeight'))}",
    )
    progress = Table.grid()
    progress.add_row(bar, Text(f" {percent(weight)}"))
    parts: list[RenderableType] = [
        title,
        Text(f"stable {backend(sp.get('stable'))} → canary {backend(sp.get('canary'))}"),
        progress,
        steps,
        weights,
    ]
    measured = last_measurements(obj)
    if measured:
        checks = Table(
            title="last check per metric", box=None, header_style="bold", title_justify="left"
        )
        for col in ("METRIC", "CANARY", "STABLE", "BOUND", "VERDICT", "SAMPLES", "AT"):
            checks.add_column(col)
        for name, m in measured:
            verdict = str(m.get("verdict", "?"))
            style = {"pass": "green", "fail": "red"}.get(verdict, "yellow")
            checks.add_row(
                name,
                _num(m.get("value")),
                _num(m.get("stableValue")),
                str(m.get("bound") or ""),
                Text(verdict + (" (dry run)" if m.get("dryRun") else ""), style=style),
                str(m.get("samples", 0)),
                age(m.get("time"), now),
            )
        parts.append(checks)
    conds = Text("  ").join(
        Text(
            f"{c.get('type')}={c.get('status')}",
            style=_condition_style(c),
        )
        for c in (condition(obj, t) for t in SHOWN_CONDITIONS)
        if c is not None
    )
    parts.append(Text.assemble(("conditions ", "bold"), conds))
    for t in sorted(TRUE_IS_A_FINDING):
        found = condition(obj, t)
        if found is not None and found.get("status") == "True" and found.get("message"):
            parts.append(Text(f"{t}: {found.get('message')}", style="red"))
    if s.get("message"):
        parts.append(Text(str(s["message"]), style="italic"))
    last = s.get("lastCommand")
    if isinstance(last, Mapping):
        parts.append(
            Text(f"last command: {last.get('verb')} ({last.get('id')}): {last.get('result')}")
        )
    if events:
        parts.append(Text("recent events", style="bold"))
        parts += [Text(event_line(e, now)) for e in events]
    return Group(*parts)


# --------------------------------------------------------------------------- data


def dump(data: Any, output: str) -> str:
    """``json`` (2-space indent) or ``yaml`` (block style, key order kept)."""
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


def as_list(objs: Sequence[Obj]) -> dict[str, Any]:
    """Several objects as kubectl prints them: a ``v1`` ``List``."""
    return {"apiVersion": "v1", "kind": "List", "items": list(objs), "metadata": {}}
