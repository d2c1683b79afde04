"""Configuration files as Asterisk reads them, and what the rules make of hostile ones:
every bad file gets findings or a clear error, never an exception."""

from __future__ import annotations

import random

import pytest

from switchboard.dialplan.conf_files import parse, strip_comment
from switchboard.dialplan.extensions import best_match, build, matches
from switchboard.dialplan.rules import Environment, Site, check, time_spec_problems


def test_comments_block_comments_and_escaped_semicolons() -> None:
    text = (
        "[ctx]\n"
        "exten => 1,1,NoOp(a\\;b) ; a comment\n"
        ";-- a block\n"
        "exten => 2,1,NoOp(hidden)\n"
        "--;\n"
        "exten => 3,1,NoOp(after)\n"
    )
    config = parse("extensions.conf", {"extensions.conf": text})

    assert [(e.where.line, e.value) for e in config.entries] == [
        (2, "1,1,NoOp(a;b)"),
        (6, "3,1,NoOp(after)"),
    ]
    assert config.entries[0].comment == "a comment"
    assert strip_comment("x = 1 ; y") == ("x = 1 ", "y")


def test_includes_are_read_in_place_and_a_missing_one_is_named() -> None:
    texts = {
        "extensions.conf": '[a]\n#include "more.conf"\n#tryinclude "absent.conf"\n'
        "#include gone.conf\nexten => 2,1,NoOp()\n",
        "more.conf": "exten => 1,1,NoOp()\n",
    }
    config = parse("extensions.conf", texts)

    assert [(e.where.file, e.section) for e in config.entries] == [
        ("more.conf", "a"),
        ("extensions.conf", "a"),
    ]
    assert [(p.rule, p.where.line) for p in config.problems] == [("SB-INCLUDE-MISSING", 4)]


def test_priorities_n_same_labels_and_hints_as_pbx_config_numbers_them() -> None:
    text = (
        "[c]\nexten => 100,hint,PJSIP/100,CustomPresence:100\n"
        "exten => 100,1,Answer()\n same => n(loop),Wait(1)\n same => n,Goto(loop)\n"
        "exten => _0X.,1,Dial(PJSIP/${EXTEN}@trunk)\n"
    )
    plan = build(parse("extensions.conf", {"extensions.conf": text}))
    context = plan.contexts["c"]

    assert [(s.priority, s.label, s.application) for s in context.extensions["100"]] == [
        (1, "", "Answer"),
        (2, "loop", "Wait"),
        (3, "", "Goto"),
    ]
    assert context.hints[0].devices == "PJSIP/100,CustomPresence:100"
    assert best_match(context, "0612345678") == "_0X."
    assert matches("_[1-3]XX", "250") and not matches("_[1-3]XX", "450")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("08:00-17:60,*,*,*", "'17:60' isn't a valid end time"),
        ("8-17,*,*,*", "'8' isn't a valid start time"),
        ("*,mon-fry,*,*", "invalid end day of week 'fry'"),
        ("*,monday,*,*", "invalid day of week 'monday'"),
        ("*, mon,*,*", "invalid day of week ' mon'"),
        ("*,*,32,*", "invalid day '32'"),
        ("*,*,*,dex", "invalid month 'dex'"),
    ],
)
def test_time_spec_elements_asterisk_would_skip(spec: str, problem: str) -> None:
    (found,) = time_spec_problems(spec)
    assert found.startswith(problem)
    assert "end minute" in found


def test_valid_time_specs_give_nothing() -> None:
    assert time_spec_problems("08:30-17:00,mon-fri,1-31,jan-dec") == []
    # Numbers count from 1 (weekday 1 is Sunday), and scanf reads 8:5 as 08:05.
    assert time_spec_problems("8:5-17:00,2-6,*,1-12,Europe/Amsterdam") == []


@pytest.mark.parametrize("seed", range(20))
def test_hostile_files_give_findings_never_an_exception(seed: int) -> None:
    chance = random.Random(seed)
    alphabet = "[]()=>,;#\\\"'${}&|?:!_-.\n\t abcXN0123456789"
    texts = {
        name: "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 4000)))
        for name in ("extensions.conf", "pjsip.conf", "manager.conf", "modules.conf")
    }
    texts["extensions.conf"] += '\n#include "extensions.conf"\n[x]\nexten => 1,1,Goto(' + (
        "${" * 500
    )

    findings = check(Site.read(texts), Environment())

    assert all(f.rule and f.file and f.line >= 1 for f in findings)


def test_a_huge_line_and_undecodable_bytes_are_read_as_text() -> None:
    texts = {"extensions.conf": "[c]\nexten => 1,1,NoOp(" + "\ufffd" * 200_000 + ")\n"}

    findings = check(Site.read(texts), Environment())

    assert [f.rule for f in findings] == ["SB-AMI-RIGHTS"]


def test_a_finding_on_an_include_line_can_be_suppressed_with_a_reason() -> None:
    texts = {
        "extensions.conf": "[c]\n"
        "#include optional.conf ; switchboard: ignore SB-INCLUDE-MISSING because per site\n"
        "#include other.conf ; switchboard: ignore SB-INCLUDE-MISSING\n",
        "manager.conf": "[switchboard]\nread = all\nwrite = all\n",
    }

    findings = check(Site.read(texts), Environment())

    assert [(f.line, f.rule) for f in findings] == [
        (3, "SB-INCLUDE-MISSING"),
        (3, "SB-SUPPRESSION"),
    ]
