"""Retrieval benchmark: ranking quality, no-answer detection, latency and ingestion throughput of the
knowledge base, plus a product-question check on real Amazon questions.

On the shop corpus (the demo shop's policy pages, the tau2 retail policy and the demo catalog of
seed 7) with the labeled QA set (``evals/data/retrieval_qa.jsonl``):

- ranking per mode (dense, bm25, hybrid) over the answerable questions: recall@k (a relevant section
  among the first k passages), MRR, and nDCG@10 (binary gains, each relevant section counted once);
- coverage: the share of unanswerable questions flagged ("no-answer detection") and of answerable
  ones left covered, for the cosine threshold and for the coverage model. The model is fitted and
  calibrated on the dev half of the split (``evals/data/retrieval_qa_split.json``) plus extra
  unanswerable dev questions (``retrieval_qa_dev_extra.jsonl``) only, written to the knowledge
  base's coverage-model path, and judged on the test half;
- per-query latency p50/p95 per mode, timed in a quiet loop after warm-up, with the load average;
- ingestion throughput (chunks/s) with live embeddings and with precomputed ones.

On the Amazon appliances QA data (read from the shared datasets folder, never copied): one product
document per ASIN made of its community answers; does each sampled question retrieve its own
product (recall@1/5)? Twice: with the question's own answer in the document, and held out of it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from evals.retrieval_qa import QAItem, default_qa_path, load_qa
from knowledge import (
    SEARCH_MODES,
    CoverageModel,
    Document,
    Embedder,
    IngestReport,
    KnowledgeBase,
    PrecomputedEmbedder,
    SearchMode,
    get_embedder,
    train_coverage_model,
)
from knowledge.errors import KnowledgeError
from tools.demo import demo_docs_dir, seed_demo_shop
from tools.settings import Settings, get_settings
from tools.store import Store

KS: Final = (1, 5, 10)
"""The cut-offs reported for recall."""

DEPTH: Final = 10
"""Passages asked for per question (recall@10 and nDCG@10 read them all)."""

TARGETS: Final = {
    "hybrid_recall@5": 0.95,
    "no_answer_detection": 0.8,
    "p95_ms": 30.0,
}
"""hybrid recall@5 and no-answer detection are judged on the test half; p95 on hybrid search."""

DEMO_SEED: Final = 7
"""The demo shop whose product ids the QA set's catalog labels name."""

AMAZON_DIR: Final = "amazon_qa_appliances"
AMAZON_FILE: Final = "qa_Appliances.jsonl"
AMAZON_SCOPE: Final = "amazon"


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def section_ref(source: str, anchor: str) -> str:
    """How a section is named in rankings: ``source#anchor``, or ``source`` without an anchor (as
    :attr:`knowledge.Citation.ref` does)."""
    return f"{source}#{anchor}" if anchor else source


def relevant_refs(item: QAItem) -> frozenset[str]:
    """The sections that answer ``item`` (empty for a no-answer question)."""
    return frozenset(section_ref(r.source, r.anchor) for r in item.relevant)


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when any relevant section is among the first ``k`` of ``ranked``, else 0.0.

    The labeled sections of a question are alternatives (each one answers it), so finding one is
    what counts, rather than the fraction found."""
    return 1.0 if any(ref in relevant for ref in ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / the rank of the first relevant section (0.0 when none is ranked)."""
    for rank, ref in enumerate(ranked, start=1):
        if ref in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """nDCG@k with binary gains. A section ranked again (a second chunk of it) gains nothing, so a
    ranking cannot beat the ideal one of each relevant section once, at the top."""
    if not relevant:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for rank, ref in enumerate(ranked[:k], start=1):
        if ref in relevant and ref not in seen:
            seen.add(ref)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ranking_metrics(
    rankings: Mapping[str, Sequence[str]], items: Sequence[QAItem]
) -> dict[str, float]:
    """Mean recall@1..10, MRR and nDCG@10 over the answerable ``items`` (``rankings`` by item id)."""
    answerable = [i for i in items if i.answerable]
    out: dict[str, float] = {"questions": float(len(answerable))}
    if not answerable:
        return out
    for k in range(1, DEPTH + 1):
        out[f"recall@{k}"] = statistics.fmean(
            recall_at_k(rankings[i.id], relevant_refs(i), k) for i in answerable
        )
    out["mrr"] = statistics.fmean(
        reciprocal_rank(rankings[i.id], relevant_refs(i)) for i in answerable
    )
    out[f"ndcg@{DEPTH}"] = statistics.fmean(
        ndcg_at_k(rankings[i.id], relevant_refs(i), DEPTH) for i in answerable
    )
    return out


def coverage_rates(covered: Mapping[str, bool], items: Sequence[QAItem]) -> dict[str, float]:
    """No-answer detection (unanswerable questions not covered) and the share of answerable
    questions covered."""
    answerable = [covered[i.id] for i in items if i.answerable]
    unanswerable = [covered[i.id] for i in items if not i.answerable]
    return {
        "no_answer_detection": _share(not c for c in unanswerable),
        "answerable_covered": _share(answerable),
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
    }


def _share(flags: Iterator[bool] | Sequence[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


# --------------------------------------------------------------------------------------------------
# The dev/test split
# --------------------------------------------------------------------------------------------------


def default_split_path() -> Path:
    """The split shipped next to the QA set."""
    return default_qa_path().with_name("retrieval_qa_split.json")


def default_extra_dev_path() -> Path:
    """Unanswerable questions written for fitting and calibrating only (never reported on): the
    QA set's 24 unanswerable dev questions alone make a coarse calibration."""
    return default_qa_path().with_name("retrieval_qa_dev_extra.jsonl")


def make_split(items: Sequence[QAItem]) -> dict[str, list[str]]:
    """A deterministic dev/test split of ``items``, stratified by kind and corpus.

    Within each (kind, corpus) group, questions are ordered by the SHA-256 of their id and dealt
    alternately; which half gets the odd one out of an odd-sized group alternates too, so the
    halves differ by at most one question overall."""
    groups: dict[tuple[str, str], list[QAItem]] = defaultdict(list)
    for item in items:
        groups[(item.kind, item.corpus)].append(item)
    dev: list[str] = []
    test: list[str] = []
    first_to_dev = True
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda i: hashlib.sha256(i.id.encode()).hexdigest())
        for position, item in enumerate(ordered):
            (dev if (position % 2 == 0) == first_to_dev else test).append(item.id)
        if len(ordered) % 2:
            first_to_dev = not first_to_dev
    return {"dev": sorted(dev), "test": sorted(test)}


def load_split(path: Path, items: Sequence[QAItem]) -> tuple[list[QAItem], list[QAItem]]:
    """The dev and test questions named by the split file at ``path``; raises ``ValueError`` when
    the halves overlap, name unknown ids or leave questions out."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    by_id = {i.id: i for i in items}
    dev, test = (list(raw.get(half, [])) for half in ("dev", "test"))
    if set(dev) & set(test):
        raise ValueError(f"{path}: ids in both halves: {sorted(set(dev) & set(test))[:5]}")
    unknown = sorted((set(dev) | set(test)) - set(by_id))
    if unknown:
        raise ValueError(f"{path}: unknown ids {unknown[:5]}")
    missing = sorted(set(by_id) - set(dev) - set(test))
    if missing:
        raise ValueError(f"{path}: questions in neither half: {missing[:5]}")
    return [by_id[i] for i in dev], [by_id[i] for i in test]


def write_split(path: Path, items: Sequence[QAItem]) -> Path:
    """Write :func:`make_split` of ``items`` to ``path``."""
    path.write_text(json.dumps(make_split(items), indent=1) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Running searches
# --------------------------------------------------------------------------------------------------


@dataclass
class QARun:
    """Every question searched in every mode."""

    rankings: dict[SearchMode, dict[str, list[str]]]
    """Cited sections best first, by mode and question id."""
    features: dict[str, dict[str, float]]
    """The coverage signals of each question (the same in every mode)."""


def run_questions(kb: KnowledgeBase, items: Sequence[QAItem], advance: Callable[[], None]) -> QARun:
    """Search every question in every mode (``DEPTH`` passages)."""
    rankings: dict[SearchMode, dict[str, list[str]]] = {mode: {} for mode in SEARCH_MODES}
    features: dict[str, dict[str, float]] = {}
    for item in items:
        for mode in SEARCH_MODES:
            result = kb.search(item.question, DEPTH, mode=mode)
            rankings[mode][item.id] = [p.citation.ref for p in result.passages]
            features[item.id] = dict(result.coverage_features)
            advance()
    return QARun(rankings, features)


def time_searches(
    kb: KnowledgeBase,
    queries: Sequence[str],
    mode: SearchMode,
    advance: Callable[[], None],
    *,
    warmup: int = 10,
) -> dict[str, Any]:
    """p50/p95/mean of ``kb.search`` per query, after ``warmup`` untimed searches; nothing else
    runs in the loop."""
    for query in queries[:warmup]:
        kb.search(query, DEPTH, mode=mode)
    before = os.getloadavg()[0]
    timings: list[float] = []
    for query in queries:
        started = time.perf_counter()
        kb.search(query, DEPTH, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
        advance()
    return _latency(timings, before)


def time_embedding(embedder: Embedder, queries: Sequence[str]) -> dict[str, Any]:
    """The query-embedding share of search latency, timed the same way."""
    for query in queries[:10]:
        embedder.embed_query(query)
    before = os.getloadavg()[0]
    timings = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed_query(query)
        timings.append((time.perf_counter() - started) * 1000)
    return _latency(timings, before)


def _latency(timings: list[float], load_before: float) -> dict[str, Any]:
    return {
        "queries": len(timings),
        "p50_ms": round(percentile(timings, 0.5), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "mean_ms": round(statistics.fmean(timings), 2) if timings else 0.0,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "timings_ms": [round(t, 3) for t in timings],
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


@contextmanager
def _torch_threads_set(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _throughput(report: IngestReport | Sequence[IngestReport]) -> dict[str, Any]:
    reports = [report] if isinstance(report, IngestReport) else list(report)
    chunks = sum(r.chunks_written for r in reports)
    seconds = sum(r.seconds for r in reports)
    return {
        "chunks": chunks,
        "embedded": sum(r.embedded for r in reports),
        "seconds": round(seconds, 3),
        "chunks_per_s": round(chunks / seconds, 1) if seconds else 0.0,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


# --------------------------------------------------------------------------------------------------
# Amazon appliances product questions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductQuestion:
    """One row of the Amazon QA file."""

    index: int
    asin: str
    question: str
    answer: str


def amazon_qa_path(settings: Settings | None = None) -> Path:
    """The Amazon appliances QA file in the shared datasets folder."""
    return (settings or get_settings()).shared_data_dir / AMAZON_DIR / AMAZON_FILE


def load_amazon_qa(path: Path, *, products: int | None = None) -> list[ProductQuestion]:
    """The rows with a question and an answer; ``products`` keeps the first that many ASINs (in
    file order), for quick runs."""
    rows: list[ProductQuestion] = []
    kept: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            raw = json.loads(line)
            asin, question, answer = (
                str(raw.get(k) or "").strip() for k in ("asin", "question", "answer")
            )
            if not (asin and question and answer):
                continue
            if asin not in kept:
                if products is not None and len(kept) >= products:
                    continue
                kept.add(asin)
            rows.append(ProductQuestion(index, asin, question, answer))
    return rows


def product_documents(
    rows: Sequence[ProductQuestion], *, hold_out: Collection[int] = ()
) -> list[Document]:
    """One plain-text product document per ASIN, made of its answers (one paragraph each), leaving
    out the answers of the rows in ``hold_out``; products left with no answer are skipped."""
    answers: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.index not in hold_out:
            answers[row.asin].append(" ".join(row.answer.split()))
    return [
        Document(
            source=f"{AMAZON_SCOPE}/{asin}",
            title=f"Appliance {asin}",
            text="\n\n".join(texts),
            doc_type="product",
            markdown=False,  # community answers are not Markdown; a '#' is not a heading
            product_id=asin,
            scope=AMAZON_SCOPE,
            location=f"{AMAZON_FILE} {asin}",
        )
        for asin, texts in sorted(answers.items())
    ]


def sample_questions(
    rows: Sequence[ProductQuestion], n: int, seed: int = 0
) -> list[ProductQuestion]:
    """``n`` rows drawn without replacement (deterministic), only from products with at least two
    questions, so a held-out question's product keeps a document."""
    per_product: dict[str, int] = defaultdict(int)
    for row in rows:
        per_product[row.asin] += 1
    eligible = [r for r in rows if per_product[r.asin] >= 2]
    picked = random.Random(seed).sample(eligible, min(n, len(eligible)))
    # At most one question per product is held out, so no product loses two answers at once.
    seen: set[str] = set()
    out = []
    for row in picked:
        if row.asin not in seen:
            seen.add(row.asin)
            out.append(row)
    return out


def product_recall(
    kb: KnowledgeBase, questions: Sequence[ProductQuestion], advance: Callable[[], None]
) -> dict[str, dict[str, float]]:
    """Per mode: recall@1/5 and MRR of each question's own product among distinct products."""
    out: dict[str, dict[str, float]] = {}
    for mode in SEARCH_MODES:
        hits = {1: 0.0, 5: 0.0}
        rr = 0.0
        for row in questions:
            # Products have several chunks; rank distinct products, from enough passages for five.
            result = kb.search(row.question, 25, mode=mode)
            products = list(dict.fromkeys(p.metadata.product_id for p in result.passages))
            rr += reciprocal_rank(products, {row.asin})
            for k in hits:
                hits[k] += recall_at_k(products, {row.asin}, k)
            advance()
        n = max(1, len(questions))
        out[mode] = {"recall@1": hits[1] / n, "recall@5": hits[5] / n, "mrr": rr / n}
    return out


# --------------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------------


@contextmanager
def _bars(console: Console) -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """Progress bars; ``start(label, total)`` gives the function that advances that bar."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:

        def start(label: str, total: int) -> Callable[[], None]:
            task: TaskID = progress.add_task(label, total=total)
            return lambda: progress.advance(task)

        yield start


def _ingest_progress(start: Callable[[str, int], Callable[[], None]], label: str) -> Any:
    """A knowledge-base progress callback drawing one bar per stage."""
    bars: dict[str, Callable[[], None]] = {}
    done: dict[str, int] = {}

    def update(stage: str, count: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = start(f"{label}: {stage}", total)
            done[stage] = 0
        for _ in range(count - done[stage]):
            bars[stage]()
        done[stage] = count

    return update


def _bench_settings(base: Settings, var_dir: Path, collection: str) -> Settings:
    """``base`` with an embedded chroma store of its own in ``var_dir`` and the threshold method:
    the bench computes both coverage methods from the features itself."""
    return base.model_copy(
        update={
            "var_dir": var_dir,
            "chroma_url": None,
            "chroma_dir": None,
            "kb_collection": collection,
            "kb_coverage": "threshold",
        }
    )


def main(
    *,
    out: str = "reports/bench.json",
    html: str = "reports/retrieval.html",
    qa_path: Path | None = None,
    split_path: Path | None = None,
    extra_dev_path: Path | None = None,
    coverage_model_path: Path | None = None,
    train: bool = True,
    sources: Sequence[Path] | None = None,
    catalog: bool = True,
    max_questions: int | None = None,
    latency_queries: int = 200,
    amazon_questions: int = 500,
    amazon_products: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the benchmark, print its tables, merge it into ``out`` under ``"retrieval"`` and write
    the ``html`` report; returns the JSON written.

    ``sources`` (default: the demo docs and the tau2 policy) and ``catalog`` (the demo catalog)
    choose the corpus; questions whose labeled sections it lacks are left out. ``max_questions``
    keeps a stratified subset. With ``train``, the coverage model is fitted on the dev half (plus
    the unanswerable questions of ``extra_dev_path``, default :func:`default_extra_dev_path`) and
    saved to ``coverage_model_path`` (default: where the knowledge base reads it); fitting takes
    about a second, so ``latency_queries=0, amazon_questions=0`` retrains in the time the QA
    searches take. ``amazon_questions`` 0 skips the Amazon check; ``amazon_products`` keeps only the
    first that many products."""
    console = console or Console()
    settings = get_settings()
    base_embedder = get_embedder()
    model_path = coverage_model_path or (
        settings.kb_coverage_model or settings.resolved_model_dir / "kb_coverage.json"
    )
    qa_file = qa_path or default_qa_path()
    all_items = load_qa(qa_file)
    dev_all, test_all = load_split(split_path or default_split_path(), all_items)
    sources = (
        list(sources) if sources is not None else [demo_docs_dir(), settings.tau2_dir / "policy.md"]
    )

    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp, _bars(console) as start:
        work = Path(tmp)
        shop = _build_shop(settings, base_embedder, work, sources, catalog, start)
        report["ingestion"] = {"shop": shop.throughput}
        kb = shop.kb
        try:
            corpus_refs = set(kb.sections())
            dev = _usable(dev_all, corpus_refs, max_questions)
            test = _usable(test_all, corpus_refs, max_questions)
            items = dev + test
            extra_file = extra_dev_path or default_extra_dev_path()
            extra = (
                _usable(load_qa(extra_file), corpus_refs, max_questions)
                if extra_file.is_file()
                else []
            )
            report["qa"] = {
                "path": str(qa_file),
                "split": str(split_path or default_split_path()),
                "questions": {"dev": len(dev), "test": len(test), "dev_extra": len(extra)},
                "dev_extra": str(extra_file),
                "labeled_sections_not_in_corpus": sorted(
                    {ref for i in dev_all + test_all for ref in relevant_refs(i)} - corpus_refs
                ),
                "chunks": kb.stats().chunks,
                "sources": kb.stats().sources,
            }
            searched = items + extra
            run = run_questions(kb, searched, start("QA questions x 3 modes", 3 * len(searched)))
            report["ranking"] = {
                half: {mode: ranking_metrics(run.rankings[mode], part) for mode in SEARCH_MODES}
                for half, part in (("test", test), ("full", items))
            }
            report["ranking"]["test_by_kind"] = {
                kind: {
                    mode: ranking_metrics(run.rankings[mode], [i for i in test if i.kind == kind])
                    for mode in SEARCH_MODES
                }
                for kind in sorted({i.kind for i in test if i.answerable})
            }
            model = _train(run, dev + extra, model_path, train, report)
            report["coverage"] = _coverage(run, dev, test, items, settings, model)
            if model is not None:
                kb.coverage_model = model  # so the timed searches pay for the model too
            if latency_queries > 0:
                queries = [i.question for i in items] * max(
                    1, math.ceil(latency_queries / len(items))
                )
                queries = queries[:latency_queries]
                report["latency"] = {
                    mode: time_searches(kb, queries, mode, start(f"latency {mode}", len(queries)))
                    for mode in SEARCH_MODES
                }
                report["latency"]["embed_query_only"] = time_embedding(base_embedder, queries)
                report["latency"]["coverage_method"] = kb.coverage_method
                threads = _torch_threads()
                report["latency"]["torch_threads"] = threads
                # The other sensible CONCIERGE_KB_EMBED_THREADS, measured here and now for comparison.
                other = 1 if threads != 1 else max(1, os.cpu_count() or 1)
                if other != threads:
                    with _torch_threads_set(other):
                        report["latency"][f"hybrid, torch threads: {other}"] = time_searches(
                            kb,
                            queries,
                            "hybrid",
                            start(f"latency hybrid, {other} thread(s)", len(queries)),
                        )
        finally:
            kb.close()
        if amazon_questions > 0:
            report["amazon"], report["ingestion"]["amazon"] = _amazon(
                settings, base_embedder, work, amazon_questions, amazon_products, start
            )
    report["targets"] = _targets(report)
    _print(console, report)
    _write(out, report)
    html_path = write_html(Path(html), report)
    console.print(f"Wrote {out} (key 'retrieval') and {html_path}")
    if train and model is not None:
        console.print(f"Coverage model saved to {model_path}")
    return report


@dataclass
class _Shop:
    kb: KnowledgeBase
    throughput: dict[str, Any]


def _build_shop(
    settings: Settings,
    embedder: Embedder,
    work: Path,
    sources: Sequence[Path],
    catalog: bool,
    start: Callable[[str, int], Callable[[], None]],
) -> _Shop:
    """Ingest the shop corpus twice, live and from the first run's vectors, and open it for search."""
    store = Store(f"sqlite:///{work / 'shop.db'}")
    store.migrate()
    if catalog:
        seed_demo_shop(store, DEMO_SEED)
    live_settings = _bench_settings(settings, work / "var", "bench_shop")
    recorder = PrecomputedEmbedder({}, embedder)
    throughput: dict[str, Any] = {}
    with KnowledgeBase(live_settings, embedder=recorder) as live:
        reports = [live.ingest(sources, progress=_ingest_progress(start, "shop docs (live)"))]
        if catalog:
            reports.append(
                live.sync_catalog(store, progress=_ingest_progress(start, "catalog (live)"))
            )
        throughput["live"] = _throughput(reports)
    cached = PrecomputedEmbedder(recorder.vectors, embedder)
    pre_settings = _bench_settings(settings, work / "var", "bench_shop_precomputed")
    with KnowledgeBase(pre_settings, embedder=cached) as pre:
        reports = [pre.ingest(sources)]
        if catalog:
            reports.append(pre.sync_catalog(store))
        throughput["precomputed"] = _throughput(reports) | {"embedded": cached.texts_embedded}
    store.dispose()
    return _Shop(KnowledgeBase(live_settings, embedder=embedder), throughput)


def _usable(items: Sequence[QAItem], corpus: set[str], limit: int | None) -> list[QAItem]:
    """The questions the corpus can be judged on, with only the labeled sections it holds (a
    question none of whose sections it holds is left out); at most ``limit`` of them, drawn evenly
    from answerable and unanswerable ones."""
    usable = []
    for item in items:
        held = tuple(r for r in item.relevant if section_ref(r.source, r.anchor) in corpus)
        if held or not item.answerable:
            usable.append(replace(item, relevant=held))
    if limit is None or len(usable) <= limit:
        return usable
    answerable = [i for i in usable if i.answerable]
    unanswerable = [i for i in usable if not i.answerable]
    half = min(len(unanswerable), limit // 2)
    return answerable[: limit - half] + unanswerable[:half]


def _train(
    run: QARun, dev: Sequence[QAItem], path: Path, train: bool, report: dict[str, Any]
) -> CoverageModel | None:
    """The coverage model fitted on the dev half (and saved), or the one at ``path`` when not
    training; None (reported) when neither works."""
    if not train:
        try:
            return CoverageModel.load(path)
        except KnowledgeError as exc:
            report["coverage_model_error"] = str(exc)
            return None
    started = time.perf_counter()
    try:
        model = train_coverage_model([run.features[i.id] for i in dev], [i.answerable for i in dev])
    except KnowledgeError as exc:
        report["coverage_model_error"] = str(exc)
        return None
    seconds = time.perf_counter() - started
    model = replace(
        model,
        trained=model.trained
        | {
            "on": "dev half of the retrieval QA set + the extra unanswerable dev questions",
            "questions": [i.id for i in dev],
            "seconds": round(seconds, 3),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    model.save(path)
    return model


def _coverage(
    run: QARun,
    dev: Sequence[QAItem],
    test: Sequence[QAItem],
    items: Sequence[QAItem],
    settings: Settings,
    model: CoverageModel | None,
) -> dict[str, Any]:
    threshold = settings.kb_coverage_threshold
    scores = {
        "threshold": {i.id: run.features[i.id]["dense_top"] for i in items},
    }
    cuts = {"threshold": threshold}
    if model is not None:
        scores["model"] = {i.id: model.probability(run.features[i.id]) for i in items}
        cuts["model"] = model.threshold
    out: dict[str, Any] = {}
    for method, score in scores.items():
        covered = {qid: s >= cuts[method] for qid, s in score.items()}
        out[method] = {
            "cut": cuts[method],
            "test": coverage_rates(covered, test) | {"auc": _auc(score, test)},
            "dev": coverage_rates(covered, dev),
            "full": coverage_rates(covered, items),
            "curve_test": _tradeoff(score, test),
            "scores_test": {
                "answerable": [round(score[i.id], 4) for i in test if i.answerable],
                "unanswerable": [round(score[i.id], 4) for i in test if not i.answerable],
            },
        }
    if model is not None:
        out["model"]["dev_is_training_data"] = True
        out["model"]["trained"] = {k: v for k, v in model.trained.items() if k != "questions"}
    return out


def _tradeoff(score: Mapping[str, float], items: Sequence[QAItem]) -> list[list[float]]:
    """(no-answer detection, answerable covered) for every cut between the ``items``' scores."""
    values = sorted({score[i.id] for i in items})
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    cuts.append(values[-1] + 1.0)
    points = []
    for cut in cuts:
        rates = coverage_rates({i.id: score[i.id] >= cut for i in items}, items)
        points.append(
            [round(rates["no_answer_detection"], 4), round(rates["answerable_covered"], 4)]
        )
    return points


def _auc(score: Mapping[str, float], items: Sequence[QAItem]) -> float:
    """ROC AUC of ``score`` for telling answerable from unanswerable questions."""
    positives = [score[i.id] for i in items if i.answerable]
    negatives = [score[i.id] for i in items if not i.answerable]
    if not positives or not negatives:
        return 0.0
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def _amazon(
    settings: Settings,
    embedder: Embedder,
    work: Path,
    n_questions: int,
    n_products: int | None,
    start: Callable[[str, int], Callable[[], None]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Product recall with each question's answer in its product's document and held out of it,
    and ingestion throughput of the product documents."""
    path = amazon_qa_path(settings)
    rows = load_amazon_qa(path, products=n_products)
    questions = sample_questions(rows, n_questions)
    held = {r.index for r in questions}
    recorder = PrecomputedEmbedder({}, embedder)
    results: dict[str, Any] = {}
    throughput: dict[str, Any] = {}
    for variant, docs in (
        ("answers_in_document", product_documents(rows)),
        ("answer_held_out", product_documents(rows, hold_out=held)),
    ):
        variant_settings = _bench_settings(settings, work / "var", f"bench_amazon_{variant}")
        # The held-out documents differ only where a question was held out: the recorder reuses
        # the vectors of every unchanged chunk, as a real re-ingest would.
        with KnowledgeBase(variant_settings, embedder=recorder) as kb:
            report = kb.ingest_documents(
                docs,
                complete_scope=AMAZON_SCOPE,
                progress=_ingest_progress(start, f"amazon {variant}"),
            )
            if variant == "answers_in_document":
                throughput["live"] = _throughput(report)
        with KnowledgeBase(variant_settings, embedder=embedder) as kb:
            results[variant] = product_recall(
                kb, questions, start(f"amazon {variant} x 3", 3 * len(questions))
            )
    cached = PrecomputedEmbedder(recorder.vectors, embedder)
    pre_settings = _bench_settings(settings, work / "var", "bench_amazon_precomputed")
    with KnowledgeBase(pre_settings, embedder=cached) as kb:
        report = kb.ingest_documents(product_documents(rows), complete_scope=AMAZON_SCOPE)
        throughput["precomputed"] = _throughput(report) | {"embedded": cached.texts_embedded}
    summary = {
        "path": str(path),
        "rows": len(rows),
        "products": len({r.asin for r in rows}),
        "questions": len(questions),
        "document": "one per ASIN: its community answers, one paragraph each",
        "results": results,
    }
    return summary, throughput


def _targets(report: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    recall = report.get("ranking", {}).get("test", {}).get("hybrid", {}).get("recall@5")
    if recall is not None:
        target = TARGETS["hybrid_recall@5"]
        out["hybrid_recall@5 (test)"] = {"target": target, "value": recall, "met": recall >= target}
    coverage = report.get("coverage", {})
    method = "model" if "model" in coverage else "threshold"
    if method in coverage:
        value = coverage[method]["test"]["no_answer_detection"]
        target = TARGETS["no_answer_detection"]
        out[f"no_answer_detection (test, {method})"] = {
            "target": target,
            "value": value,
            "met": value >= target,
            "answerable_covered": coverage[method]["test"]["answerable_covered"],
        }
    latency = report.get("latency", {}).get("hybrid")
    if latency:
        target = TARGETS["p95_ms"]
        out[f"hybrid p95 ms (torch threads: {report['latency'].get('torch_threads')})"] = {
            "target": target,
            "value": latency["p95_ms"],
            "met": latency["p95_ms"] <= target,
            "load_average_1m": latency["load_average_1m"],
            "torch_threads": report["latency"].get("torch_threads"),
        }
        for name, other in report["latency"].items():
            if name.startswith("hybrid, torch threads: ") and isinstance(other, dict):
                out[f"hybrid p95 ms (torch threads: {name.rsplit(' ', 1)[-1]})"] = {
                    "target": target,
                    "value": other["p95_ms"],
                    "met": other["p95_ms"] <= target,
                    "load_average_1m": other["load_average_1m"],
                }
    return out


def _write(out: str, report: dict[str, Any]) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing["retrieval"] = report
    path.write_text(json.dumps(existing, indent=2))


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.3f}"


def _print(console: Console, report: Mapping[str, Any]) -> None:
    ranking = report.get("ranking", {})
    for half in ("test", "full"):
        if half not in ranking:
            continue
        n = int(next(iter(ranking[half].values()))["questions"])
        title = f"ranking, {'test half' if half == 'test' else 'full set'} ({n} answerable)"
        table = Table("mode", "recall@1", "recall@5", "recall@10", "MRR", "nDCG@10", title=title)
        for mode, m in ranking[half].items():
            table.add_row(
                mode,
                *(
                    _f(m.get(key, 0.0))
                    for key in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")
                ),
            )
        console.print(table)
    coverage = report.get("coverage", {})
    if coverage:
        table = Table(
            "method",
            "cut",
            "test\ndetected",
            "test\ncovered",
            "test\nAUC",
            "full\ndetected",
            "full\ncovered",
            title="coverage: no-answer questions detected, answerable ones covered",
        )
        for method, c in coverage.items():
            table.add_row(
                method,
                f"{c['cut']:.3f}",
                _f(c["test"]["no_answer_detection"]),
                _f(c["test"]["answerable_covered"]),
                _f(c["test"]["auc"]),
                _f(c["full"]["no_answer_detection"]),
                _f(c["full"]["answerable_covered"]),
            )
        console.print(table)
    latency = report.get("latency", {})
    if latency:
        table = Table(
            "search",
            "queries",
            "p50 ms",
            "p95 ms",
            "mean ms",
            "load avg 1m",
            title="latency per query",
        )
        for name, lat in latency.items():
            if isinstance(lat, dict):
                table.add_row(
                    name,
                    str(lat["queries"]),
                    f"{lat['p50_ms']:.1f}",
                    f"{lat['p95_ms']:.1f}",
                    f"{lat['mean_ms']:.1f}",
                    " -> ".join(f"{x:.2f}" for x in lat["load_average_1m"]),
                )
        console.print(table)
    ingestion = report.get("ingestion", {})
    if ingestion:
        table = Table(
            "corpus", "embeddings", "chunks", "embedded", "seconds", "chunks/s", title="ingestion"
        )
        for corpus, runs in ingestion.items():
            for kind, t in runs.items():
                table.add_row(
                    corpus,
                    kind,
                    str(t["chunks"]),
                    str(t["embedded"]),
                    f"{t['seconds']:.2f}",
                    f"{t['chunks_per_s']:.1f}",
                )
        console.print(table)
    amazon = report.get("amazon")
    if amazon:
        table = Table(
            "document",
            "mode",
            "recall@1",
            "recall@5",
            "MRR",
            title=f"Amazon appliances: {amazon['questions']} questions, {amazon['products']} products",
        )
        for variant, modes in amazon["results"].items():
            for mode, m in modes.items():
                table.add_row(variant, mode, _f(m["recall@1"]), _f(m["recall@5"]), _f(m["mrr"]))
        console.print(table)
    targets = report.get("targets", {})
    if targets:
        table = Table("target", "wanted", "measured", "", title="targets")
        for name, t in targets.items():
            wanted = f"<= {t['target']}" if "ms" in name else f">= {t['target']}"
            table.add_row(
                name,
                wanted,
                f"{t['value']:.3f}",
                "[green]met[/green]" if t["met"] else "[red]not met[/red]",
            )
        console.print(table)
    if "coverage_model_error" in report:
        console.print(f"[yellow]coverage model: {report['coverage_model_error']}[/yellow]")
    machine = report.get("machine", {})
    console.print(
        f"machine: {machine.get('cpus')} cores, {machine.get('platform')}, "
        f"load average at start {machine.get('load_average_at_start')}"
    )


def _figures(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for each plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: list[tuple[str, str]] = []

    def keep(fig: Any, caption: str) -> None:
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        figures.append((caption, base64.b64encode(buffer.getvalue()).decode()))

    test = report.get("ranking", {}).get("test", {})
    if test:
        fig, ax = plt.subplots(figsize=(6, 4))
        ks = list(range(1, DEPTH + 1))
        for mode, m in test.items():
            ax.plot(ks, [m.get(f"recall@{k}", 0.0) for k in ks], marker="o", label=mode)
        ax.axhline(TARGETS["hybrid_recall@5"], color="grey", linestyle=":", label="target @5")
        ax.set(xlabel="k", ylabel="recall@k", title="Recall@k per mode (test half)", xticks=ks)
        ax.grid(alpha=0.3)
        ax.legend()
        keep(
            fig,
            "Share of answerable test questions with a labeled section in the first k passages.",
        )
    coverage = report.get("coverage", {})
    if coverage:
        fig, axes = plt.subplots(1, len(coverage), figsize=(5 * len(coverage), 3.6), squeeze=False)
        for ax, (method, c) in zip(axes[0], coverage.items(), strict=True):
            scores = c["scores_test"]
            ax.hist(scores["answerable"], bins=20, alpha=0.6, label="answerable")
            ax.hist(scores["unanswerable"], bins=20, alpha=0.6, label="no answer")
            ax.axvline(c["cut"], color="black", linestyle="--", label=f"cut {c['cut']:.2f}")
            xlabel = "best cosine similarity" if method == "threshold" else "P(answerable)"
            ax.set(xlabel=xlabel, ylabel="questions", title=f"coverage: {method} (test half)")
            ax.legend()
        keep(
            fig,
            "Coverage scores of answerable and unanswerable test questions; "
            "left of the cut is 'not covered'.",
        )
    if coverage:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        for method, c in coverage.items():
            curve = c["curve_test"]
            line = ax.plot([p[0] for p in curve], [p[1] for p in curve], label=method)[0]
            chosen = c["test"]
            ax.scatter(
                [chosen["no_answer_detection"]],
                [chosen["answerable_covered"]],
                color=line.get_color(),
                zorder=3,
                label=f"{method} at its cut",
            )
        ax.axvline(TARGETS["no_answer_detection"], color="grey", linestyle=":", label="target")
        ax.set(
            xlabel="no-answer questions detected",
            ylabel="answerable questions covered",
            title="Coverage trade-off on the test half",
            xlim=(0, 1.02),
            ylim=(0, 1.02),
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        keep(fig, "Every possible cut of each method's score; the dots are the cuts in use.")
    latency = {k: v for k, v in report.get("latency", {}).items() if isinstance(v, dict)}
    if latency:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.boxplot([v["timings_ms"] for v in latency.values()], showfliers=True)
        ax.set_xticks(range(1, len(latency) + 1), list(latency))
        ax.axhline(TARGETS["p95_ms"], color="grey", linestyle=":", label="p95 target")
        ax.set(ylabel="ms per query", title="Search latency (quiet loop after warm-up)")
        ax.legend()
        keep(fig, "Per-query latency; the machine's load average is in the table.")
    amazon = report.get("amazon")
    if amazon:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        variants = list(amazon["results"])
        width = 0.8 / max(1, len(variants))
        for v, variant in enumerate(variants):
            modes = amazon["results"][variant]
            xs = [m + v * width for m in range(len(modes))]
            ax.bar(
                xs, [r["recall@5"] for r in modes.values()], width, label=f"{variant} @5", alpha=0.8
            )
            ax.scatter(xs, [r["recall@1"] for r in modes.values()], color="black", zorder=3, s=12)
        ax.set_xticks(
            [m + width * (len(variants) - 1) / 2 for m in range(len(SEARCH_MODES))],
            list(SEARCH_MODES),
        )
        ax.set(
            ylabel="recall (dots: @1)",
            title="Amazon appliances: own product retrieved",
            ylim=(0, 1),
        )
        ax.legend(fontsize=8)
        keep(fig, "Does a product question retrieve its own product's document?")
    return figures


def write_html(path: Path, report: Mapping[str, Any]) -> Path:
    """A self-contained HTML page: the key numbers and the plots (inline PNGs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, t in report.get("targets", {}).items():
        verdict = "met" if t["met"] else "not met"
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{t['target']}</td><td>{t['value']:.3f}</td><td>{verdict}</td></tr>"
        )
    ranking_rows = []
    for half, modes in report.get("ranking", {}).items():
        if half not in ("test", "full"):
            continue
        for mode, m in modes.items():
            cells = "".join(
                f"<td>{m.get(k, 0.0):.3f}</td>"
                for k in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")
            )
            ranking_rows.append(f"<tr><td>{half}</td><td>{mode}</td>{cells}</tr>")
    coverage_rows = []
    for method, c in report.get("coverage", {}).items():
        coverage_rows.append(
            f"<tr><td>{method}</td><td>{c['cut']:.3f}</td><td>{c['test']['no_answer_detection']:.3f}</td>"
            f"<td>{c['test']['answerable_covered']:.3f}</td><td>{c['full']['no_answer_detection']:.3f}</td>"
            f"<td>{c['full']['answerable_covered']:.3f}</td></tr>"
        )
    figures = "".join(
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        for caption, data in _figures(report)
    )
    machine = report.get("machine", {})
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>concierge retrieval benchmark</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
figure{{margin:1.5em 0}}img{{max-width:100%}}</style></head><body>
<h1>Retrieval benchmark</h1>
<p>{escape(str(report.get("when", "")))}; {machine.get("cpus")} cores, {escape(str(machine.get("platform")))};
load average at start {machine.get("load_average_at_start")}.</p>
<h2>Targets</h2><table><tr><th>target</th><th>wanted</th><th>measured</th><th></th></tr>{"".join(rows)}</table>
<h2>Ranking</h2><table><tr><th>half</th><th>mode</th><th>recall@1</th><th>recall@5</th><th>recall@10</th>
<th>MRR</th><th>nDCG@10</th></tr>{"".join(ranking_rows)}</table>
<h2>Coverage</h2><table><tr><th>method</th><th>cut</th><th>test: no-answer detected</th>
<th>test: answerable covered</th><th>full: detected</th><th>full: covered</th></tr>
{"".join(coverage_rows)}</table>
<p>The coverage model is fitted on the dev half only; the test half is what it is judged on.</p>
{figures}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


__all__ = [
    "KS",
    "TARGETS",
    "ProductQuestion",
    "amazon_qa_path",
    "coverage_rates",
    "default_extra_dev_path",
    "default_split_path",
    "load_amazon_qa",
    "load_split",
    "main",
    "make_split",
    "ndcg_at_k",
    "percentile",
    "product_documents",
    "ranking_metrics",
    "recall_at_k",
    "reciprocal_rank",
    "relevant_refs",
    "sample_questions",
    "section_ref",
    "write_html",
    "write_split",
]
