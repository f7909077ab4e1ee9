"""`hierograph correct …`, `corrector …` and `review`: human corrections and the corrector."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hierograph.cli.common import app, console, fail, open_store_or_fail, state

correct_app = typer.Typer(
    help="Correct the topic tree by hand. Every edit is logged, can be undone, and is replayed "
    "onto each rebuilt tree.",
    no_args_is_help=True,
)
corrector_app = typer.Typer(
    help="The corrector model: learns from corrections, re-scores assignments.",
    no_args_is_help=True,
)
app.add_typer(correct_app, name="correct")
app.add_typer(corrector_app, name="corrector")
ActorOption = Annotated[
    str | None, typer.Option(help="Who makes the edit (default: settings.correction_actor).")
]


def _correct(action, *args, actor: str | None = None, **kwargs) -> None:  # noqa: ANN001
    from hierograph.curation.corrections import CorrectionError

    with open_store_or_fail() as store:
        try:
            entry = action(store, *args, actor=actor or state.settings.correction_actor, **kwargs)
        except CorrectionError as e:
            fail(str(e))
    console.print(
        f"correction #{entry.id} ({entry.kind}) applied; undo: hierograph correct undo {entry.id}",
        soft_wrap=True,
    )


@correct_app.command("move")
def correct_move(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    source: Annotated[str, typer.Option("--from", help="Topic id it leaves.")],
    target: Annotated[str, typer.Option("--to", help="Leaf topic id it joins.")],
    actor: ActorOption = None,
) -> None:
    """Move a paper from one topic to another."""
    from hierograph.curation.corrections import move_paper

    _correct(move_paper, paper, source, target, actor=actor)


@correct_app.command("add")
def correct_add(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    topic: Annotated[str, typer.Argument(help="Leaf topic id to add.")],
    actor: ActorOption = None,
) -> None:
    """Put a paper in a second (third, …) topic too."""
    from hierograph.curation.corrections import add_topic

    _correct(add_topic, paper, topic, actor=actor)


@correct_app.command("confirm")
def correct_confirm(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    topic: Annotated[str, typer.Argument(help="Topic id it is in, and rightly.")],
    actor: ActorOption = None,
) -> None:
    """Say a paper is right where it is (e.g. an item of `hierograph review`): the placement
    becomes a human one, kept on every rebuild and learned from by the corrector."""
    from hierograph.curation.corrections import confirm_paper

    _correct(confirm_paper, paper, topic, actor=actor)


@correct_app.command("remove")
def correct_remove(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    topic: Annotated[str, typer.Argument(help="Topic id to take it out of.")],
    actor: ActorOption = None,
) -> None:
    """Take a paper out of one of its topics (not its only one: move it instead)."""
    from hierograph.curation.corrections import remove_assignment

    _correct(remove_assignment, paper, topic, actor=actor)


@correct_app.command("rename")
def correct_rename(
    topic: Annotated[str, typer.Argument(help="Topic id.")],
    label: Annotated[str, typer.Argument(help="New label.")],
    summary: Annotated[str | None, typer.Option(help="New summary.")] = None,
    actor: ActorOption = None,
) -> None:
    """Rename a topic (and optionally rewrite its summary)."""
    from hierograph.curation.corrections import rename_topic

    _correct(rename_topic, topic, label, summary=summary, actor=actor)


@correct_app.command("merge")
def correct_merge(
    source: Annotated[str, typer.Argument(help="Topic id that disappears.")],
    target: Annotated[str, typer.Argument(help="Topic id that takes its papers and subtopics.")],
    actor: ActorOption = None,
) -> None:
    """Merge one topic into another."""
    from hierograph.curation.corrections import merge_topics

    _correct(merge_topics, source, target, actor=actor)


@correct_app.command("split")
def correct_split(
    topic: Annotated[str, typer.Argument(help="Leaf topic id to split.")],
    papers: Annotated[list[str], typer.Argument(help="Ids of the papers that leave it.")],
    label: Annotated[str | None, typer.Option(help="Label of the new sibling topic.")] = None,
    actor: ActorOption = None,
) -> None:
    """Split a leaf: the named papers leave it for a new sibling topic."""
    from hierograph.curation.corrections import split_topic

    _correct(split_topic, topic, papers, label=label, actor=actor)


@correct_app.command("move-topic")
def correct_move_topic(
    topic: Annotated[str, typer.Argument(help="Topic id to move.")],
    parent: Annotated[str, typer.Argument(help="Its new parent topic id.")],
    actor: ActorOption = None,
) -> None:
    """Move a topic (with its subtree) under another parent."""
    from hierograph.curation.corrections import move_topic

    _correct(move_topic, topic, parent, actor=actor)


@correct_app.command("delete")
def correct_delete(
    topic: Annotated[str, typer.Argument(help="Id of an empty topic.")],
    actor: ActorOption = None,
) -> None:
    """Delete a topic that holds no papers and no subtopics."""
    from hierograph.curation.corrections import delete_topic

    _correct(delete_topic, topic, actor=actor)


@correct_app.command("undo")
def correct_undo(
    correction: Annotated[int, typer.Argument(help="Number of the correction to undo.")],
    actor: ActorOption = None,
) -> None:
    """Undo a correction: its inverse is applied and logged; the log keeps both."""
    from hierograph.curation.corrections import undo

    _correct(undo, correction, actor=actor)


@correct_app.command("log")
def correct_log(
    limit: Annotated[int, typer.Option(min=0, help="Latest entries to show (0: all).")] = 20,
) -> None:
    """List the corrections log, newest last, with the last replay's outcome."""
    from hierograph.curation.corrections import active_corrections, last_replay

    with open_store_or_fail() as store:
        entries = store.corrections()
        replay = last_replay(store)
    active = {c.id for c in active_corrections(entries)}
    status = {i.id: i for i in replay.items} if replay else {}
    for c in entries[-limit:] if limit else entries:
        target = c.payload.get("undoes")
        what = f"undoes #{target}" if target else _correction_target(c.payload)
        state_word = "" if c.kind == "undo" or c.id in active else " [undone]"
        replayed = status.get(c.id)
        note = f" [replay: {replayed.status} {replayed.detail}]" if replayed else ""
        line = f"#{c.id} {c.at} {c.actor} {c.kind} {what}{state_word}{note}"
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if replay:
        console.print(f"last replay: {replay.summary()}", soft_wrap=True)


def _correction_target(payload: dict) -> str:
    parts = [payload.get("paper_id")] if payload.get("paper_id") else []
    for key in ("from", "to", "topic", "source", "target", "parent"):
        if isinstance(payload.get(key), dict):
            parts.append(f"{key}={payload[key]['id']}")
    if payload.get("label"):
        parts.append(repr(payload["label"]))
    return " ".join(parts)


@corrector_app.command("train")
def corrector_train() -> None:
    """Fit the corrector on the human placements; its summary is saved under <home>/corrector/."""
    from hierograph.curation.corrector import CorrectorError, train_corrector

    with open_store_or_fail() as store:
        try:
            summary = train_corrector(store, state.settings)
        except CorrectorError as e:
            fail(str(e))
    cal = summary.calibration
    calibration = (
        f"held-out calibration on {cal['n']} pairs: ECE {cal['ece']}, Brier {cal['brier']}"
        if summary.learned
        else "nothing learned yet (too few papers placed by people): the queue ranks by geometry"
    )
    console.print(
        f"trained the corrector on {summary.papers} papers ({summary.human_papers} placed by "
        f"people) over {summary.leaves} leaves; {calibration}; saved in "
        f"{state.settings.corrector_dir()}",
        soft_wrap=True,
    )


@corrector_app.command("apply")
def corrector_apply(
    accept: Annotated[
        bool,
        typer.Option(help="Also carry out the proposed moves (default: propose only)."),
    ] = False,
) -> None:
    """Score every paper no person placed, propose moves, write the review queue."""
    from hierograph.curation.corrector import CorrectorError, apply_corrector

    with open_store_or_fail() as store:
        try:
            report = apply_corrector(store, state.settings, apply_proposals=accept)
        except CorrectorError as e:
            fail(str(e))
    console.print(report.summary(), soft_wrap=True)
    console.print("least likely right first: hierograph review")


@corrector_app.command("eval")
def corrector_eval(
    gold: Annotated[
        Path,
        typer.Option(help='JSONL: {"arxiv_id" or "id", "title", "category_path": [...]} a line.'),
    ],
    share: Annotated[
        list[float] | None,
        typer.Option(help="Share of the gold papers the simulated reviewer reviews (repeat)."),
    ] = None,
    order: Annotated[
        list[str] | None,
        typer.Option(help="Reviewing order: random, queue (least likely right first); repeat."),
    ] = None,
    gold_depth: Annotated[int, typer.Option(min=1, help="Gold path levels compared.")] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report here.")
    ] = None,
) -> None:
    """Assignment precision/recall/F1 before and after a simulated reviewer and the corrector."""
    from hierograph.curation.corrector import CorrectorError
    from hierograph.curation.evaluate import evaluate_corrector

    orders = order or ["random", "queue"]
    if set(orders) - {"random", "queue"}:
        fail("--order takes random or queue")
    with open_store_or_fail() as store:
        try:
            r = evaluate_corrector(
                store, state.settings, gold, share or [0.05, 0.1, 0.2], orders, gold_depth
            )
        except CorrectorError as e:
            fail(str(e))
    console.print(
        f"gold lines {r.gold_lines}, matched in the tree {r.matched}, leaves {r.leaves}, "
        f"corrector {r.method}",
        soft_wrap=True,
    )
    for run in r.runs:
        b, a = run.before_unreviewed, run.after_unreviewed
        console.print(
            f"{run.order} order, {run.share:.0%} reviewed ({run.reviewed} papers: "
            f"{run.review.moved} moved, {run.review.confirmed} confirmed, "
            f"{run.review.made_topics} topics made): unreviewed "
            f"P {b.precision:.3f}→{a.precision:.3f} R {b.recall:.3f}→{a.recall:.3f} "
            f"F1 {b.f1:.3f}→{a.f1:.3f}; all papers F1 {run.before_all.f1:.3f}→"
            f"{run.after_all.f1:.3f} ({run.gain_per_50_reviewed:+.3f} per 50 reviewed); "
            f"corrector moved {run.apply.moved} (ECE {run.proposal_calibration['ece']}), "
            f"took off {run.apply.removed} second topics "
            f"(ECE {run.removal_calibration['ece']})",
            soft_wrap=True,
            highlight=False,
        )
    if json_out is not None:
        json_out.write_text(r.model_dump_json(indent=1))


@app.command()
def review(
    limit: Annotated[int, typer.Option(min=1, help="How many to list.")] = 20,
) -> None:
    """Placements least likely right first (from the last `hierograph corrector apply`); papers
    people placed themselves are left out."""
    from hierograph.curation.corrector import CorrectorError, review_queue

    with open_store_or_fail() as store:
        try:
            items = review_queue(store, limit)
        except CorrectorError as e:
            fail(str(e))
        topics = {t.id: t.label for t in store.topics()}
        papers = {i.paper_id: store.get_paper(i.paper_id) for i in items}
    titles = {k: p.title if p else k for k, p in papers.items()}
    for i in items:
        line = (
            f"{i.probability:.2f} {i.paper_id} {titles[i.paper_id][:70]!r} in "
            f"{topics.get(i.topic_id, i.topic_id)} [{i.topic_id}]"
        )
        if i.proposed_topic:
            better = i.proposed_topic
            line += f" → proposed: {topics.get(better, better)} [{better}]"
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    if items:
        console.print(
            "right where it is: hierograph correct confirm PAPER TOPIC; wrong: hierograph correct "
            "move PAPER --from TOPIC --to LEAF (or accept the proposals: hierograph corrector "
            "apply --accept)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


# --- live sources and periodic refresh (issue 4) ---
