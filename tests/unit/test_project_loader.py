from __future__ import annotations

from pathlib import Path

from pitboard.project.loader import load_project, scaffold


def test_scaffold_is_valid_and_never_overwrites(tmp_path: Path) -> None:
    written = scaffold(tmp_path, name="acme")
    assert {p.name for p in written} == {"pitboard.yml", "lifecycle.yml", "privacy.yml"}
    (tmp_path / "pitboard.yml").write_text("name: mine\n")
    assert scaffold(tmp_path, name="acme") == []
    assert (tmp_path / "pitboard.yml").read_text() == "name: mine\n"
    project = load_project(tmp_path)
    assert project.ok, project.problems


def test_missing_project_file(tmp_path: Path) -> None:
    project = load_project(tmp_path)
    assert not project.ok
    assert "pitboard init" in str(project.problems[0])


def test_problems_point_at_the_line_of_the_offending_key(tmp_path: Path) -> None:
    scaffold(tmp_path, name="acme")
    (tmp_path / "lifecycle.yml").write_text(
        "stages:\n  - name: lead\n    label: Lead\n  - name: MQL\n    label: MQL\n  - name: lead\n    label: Again\n"
    )
    problems = [str(p) for p in load_project(tmp_path).problems]
    assert any("lifecycle.yml:4: stages.1.name: String should match pattern" in p for p in problems), problems
    (tmp_path / "lifecycle.yml").write_text("stages:\n  - {name: lead, label: Lead}\n  - {name: lead, label: L2}\n")
    problems = [str(p) for p in load_project(tmp_path).problems]
    assert problems == [f"{tmp_path / 'lifecycle.yml'}:1: stage names must be unique; repeated: lead"]


def test_invalid_yaml_reports_its_line(tmp_path: Path) -> None:
    (tmp_path / "pitboard.yml").write_text("name: acme\ncurrency: [EUR\n")
    problems = load_project(tmp_path).problems
    assert len(problems) == 1
    assert problems[0].line == 3
    assert "not valid YAML" in problems[0].message


def test_privacy_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    scaffold(tmp_path, name="acme")
    (tmp_path / "privacy.yml").write_text(
        "purposes:\n"
        "  - key: news\n"
        "    label: News\n"
        "    channels: [sms]\n"
        "    double_opt_in: true\n"
        "    consent_text: Send news\n"
        "  - key: promo\n"
        "    label: Promo\n"
        "    channels: [fax]\n",
        encoding="utf-8",
    )
    problems = [str(p) for p in load_project(tmp_path).problems]
    assert any("privacy.yml:2" in p and "double opt-in is confirmed by email" in p for p in problems), problems
    assert any("privacy.yml:9" in p and "purposes.1.channels.0" in p for p in problems), problems
