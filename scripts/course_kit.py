"""The course kit, generated from the chapters: the student edition, an nbgrader course and the session slides.

    .venv/bin/python scripts/course_kit.py check             # every chapter's exercises follow the format below
    .venv/bin/python scripts/course_kit.py student           # `make student`: _build/student/chapters/ + html/
    .venv/bin/python scripts/course_kit.py nbgrader [--out DIR]   # `make course`: an nbgrader course folder
    .venv/bin/python scripts/course_kit.py slides [--out DIR]     # one reveal.js deck per session (make book)

The chapters are the one source: nothing here is edited by hand. An exercise is a markdown prompt whose first
line is `**Exercise N** (KIND; LEVEL; about M min).`, then (when it has a checker) one starter code cell tagged
`exercise` that ends with a call `chNN.check_...(...)`, then one or more worked-solution cells tagged `solution`
(code cells start with `# Solution`). The student edition drops the `solution` cells; the nbgrader course turns
each starter into a graded answer cell (the worked solution between nbgrader's solution markers) and an
autograder test cell that asserts the same checker, worth 1, 2 or 3 points for easy, medium, hard.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"

KINDS = ("write code", "predict then check", "find the bug", "derivation", "experiment")
LEVELS = {"easy": 1, "medium": 2, "hard": 3}  # level -> nbgrader points
HEADER = re.compile(r"\*\*Exercise (\d+)\*\* \(([a-z ]+); ([a-z]+); about (\d+) min\)\.")
STUDENT_NOTE = ("*Student edition: the worked solutions are not in this edition. Run each checker after you "
                "write your answer; it says `Correct` or gives a hint.*")

# The instructors' plan (book/instructors.md): session -> (title, chapters). Session 8 is optional.
SESSIONS = {
    1: ("The big picture and tokens", (1, 2)),
    2: ("Embeddings and positions", (3, 4)),
    3: ("Attention, masks and heads", (5, 6)),
    4: ("The sub-layers and the encoder", (7, 8)),
    5: ("The decoder and the full model", (9, 10)),
    6: ("Training and decoding", (11, 12)),
    7: ("Inside the model, and a real one", (13, 14)),
    8: ("After 2017: GPT and BERT", (15, 16, 17)),
}


@dataclass
class Exercise:
    number: int
    kind: str
    level: str
    minutes: int
    prompt: int  # cell indices in the chapter notebook
    starter: int | None = None
    solutions: list[int] = field(default_factory=list)
    check: str = ""  # the starter's final checker call, as source

    @property
    def points(self) -> int:
        return LEVELS[self.level]


def chapter_paths() -> list[Path]:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def source(cell: dict) -> str:
    return "".join(cell.get("source", []))


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def checker_call(code: str, where: str) -> str:
    """The final statement of a starter or solution cell, which must be a bare call chNN.check_...(...)."""
    try:
        body = ast.parse(code).body
    except SyntaxError as exc:
        raise ValueError(f"{where}: not valid Python ({exc})") from None
    last = body[-1] if body else None
    func = last.value.func if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) else None
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and re.fullmatch(r"ch\d\d", func.value.id) and func.attr.startswith("check_")):
        raise ValueError(f"{where}: the last statement must be a checker call such as ch05.check_x(...), "
                         f"got {ast.unparse(last) if last else 'nothing'!r}")
    return ast.unparse(last)


def parse_exercises(nb: dict, name: str = "notebook") -> list[Exercise]:
    """The exercises of one chapter notebook, checked against the format; ValueError says what is wrong."""
    cells = nb["cells"]
    exercises: list[Exercise] = []
    for i, cell in enumerate(cells):
        text = source(cell)
        if cell["cell_type"] != "markdown" or "**Exercise" not in text:
            continue
        body = re.sub(r"\A## Exercises\s*\n", "", text.lstrip())
        match = HEADER.match(body)
        if not match or body.count("**Exercise") != 1:
            raise ValueError(f"{name} cell {i}: one exercise per cell, starting `**Exercise N** (KIND; LEVEL; about "
                             f"M min).`, got {body[:90]!r}")
        number, kind, level, minutes = int(match[1]), match[2], match[3], int(match[4])
        if number != len(exercises) + 1:
            raise ValueError(f"{name} cell {i}: expected exercise {len(exercises) + 1}, got {number}")
        if kind not in KINDS or level not in LEVELS or minutes < 1:
            raise ValueError(f"{name} exercise {number}: kind must be one of {KINDS}, level one of "
                             f"{tuple(LEVELS)}, minutes >= 1; got {kind!r}, {level!r}, {minutes}")
        exercise = Exercise(number, kind, level, minutes, prompt=i)
        j = i + 1
        if j < len(cells) and "exercise" in tags(cells[j]):
            if cells[j]["cell_type"] != "code":
                raise ValueError(f"{name} exercise {number}: the starter (tag exercise) must be a code cell")
            exercise.starter, exercise.check = j, checker_call(source(cells[j]), f"{name} exercise {number} starter")
            j += 1
        while j < len(cells) and "solution" in tags(cells[j]):
            if cells[j]["cell_type"] == "code" and not source(cells[j]).startswith("# Solution"):
                raise ValueError(f"{name} exercise {number}: a solution code cell must start with '# Solution'")
            exercise.solutions.append(j)
            j += 1
        if not exercise.solutions:
            raise ValueError(f"{name} exercise {number}: no worked solution (a cell tagged 'solution' after it)")
        if exercise.starter is not None:
            last = cells[exercise.solutions[-1]]
            solved = checker_call(source(last), f"{name} exercise {number} solution")
            if solved != exercise.check:
                raise ValueError(f"{name} exercise {number}: the solution should end with the starter's "
                                 f"{exercise.check}, got {solved}")
        exercises.append(exercise)
    tagged = [i for i, c in enumerate(cells) if "solution" in tags(c)]
    claimed = {i for e in exercises for i in e.solutions}
    if set(tagged) != claimed:
        raise ValueError(f"{name}: cells {sorted(set(tagged) - claimed)} are tagged 'solution' but follow no exercise")
    return exercises


# ---------- the student edition ----------

def solution_lines(nb: dict, name: str = "notebook") -> list[str]:
    """The lines a student must not see: each line of a worked solution, source and printed output, stripped,
    longer than 12 characters and not also in a cell the student edition keeps, source or printed output (a
    prompt may quote a line, and a find-the-bug exercise prints the buggy code, most of whose lines are right)."""
    solutions = {j for e in parse_exercises(nb, name) for j in e.solutions}
    kept = "\n".join(source(c) + "\n" + "".join("".join(o.get("text", "")) for o in c.get("outputs", []))
                     for i, c in enumerate(nb["cells"]) if i not in solutions)
    lines = []
    for j in sorted(solutions):
        cell = nb["cells"][j]
        text = source(cell).splitlines() + [line for o in cell.get("outputs", [])
                                            for line in "".join(o.get("text", "")).splitlines()]
        lines += [line.strip() for line in text if len(line.strip()) > 12 and line.strip() not in kept
                  and line.strip() != "# Solution"]
    return lines


def student_notebook(nb: dict, name: str = "notebook") -> dict:
    """The chapter without its worked solutions (cells and outputs); starters and checker calls stay."""
    exercises = parse_exercises(nb, name)
    out = copy.deepcopy(nb)
    drop = {i for e in exercises for i in e.solutions}
    if exercises:
        first = out["cells"][exercises[0].prompt]
        text = source(first)
        heading = "## Exercises"
        start = text.index(heading) + len(heading) if heading in text else 0
        first["source"] = text[:start] + "\n\n" + STUDENT_NOTE + "\n\n" + text[start:].lstrip("\n")
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


def write_student_edition(target: Path, html: bool) -> int:
    chapters = target / "chapters"
    if chapters.exists():
        shutil.rmtree(chapters)
    chapters.mkdir(parents=True)
    for path in chapter_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        out = student_notebook(nb, path.name)
        (chapters / path.name).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"student notebooks: {len(chapter_paths())} in {chapters.relative_to(ROOT)}")
    if not html:
        return 0
    shutil.copyfile(ROOT / "_toc.yml", target / "_toc.yml")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    title = re.search(r'^title: "(.*)"$', config, re.M)
    config = config.replace(title[0], f'title: "{title[1]} (student edition)"')
    (target / "_config.yml").write_text(config, encoding="utf-8")
    status = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_book.py"), "--source", str(target),
                             "--config", str(target / "_config.yml")], cwd=ROOT).returncode
    if status == 0:
        if (target / "html").exists():
            shutil.rmtree(target / "html")
        (target / "_build" / "html").rename(target / "html")
        shutil.rmtree(target / "_build")
        print(f"student book: open {(target / 'html' / 'index.html').relative_to(ROOT)}")
    return status


# ---------- the nbgrader course ----------

def _region(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}### BEGIN SOLUTION", *lines, f"{indent}### END SOLUTION"]


def graded_answer(solution: str, check: str) -> str:
    """The worked solution as an nbgrader answer cell: each function keeps its signature and gets its body
    between the solution markers (the released version keeps the signature and raises NotImplementedError);
    other statements go between markers whole; imports stay outside."""
    code = "\n".join(line for line in solution.splitlines() if line.strip() != "# Solution")
    lines = code.splitlines()
    body = ast.parse(code).body
    if body and ast.unparse(body[-1]) == check:
        lines = lines[:body[-1].lineno - 1]
        body = body[:-1]
    out: list[str] = []
    loose: list[str] = []
    previous_end = 0
    for node in body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        between = lines[previous_end:start]  # comments and blank lines before this statement
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out += _region(loose, "") if loose else []
            loose = []
            out += between + lines[start:node.end_lineno]
        elif isinstance(node, ast.FunctionDef):
            out += _region(loose, "") if loose else []
            loose = []
            first = node.body[0]
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                first.value.value, str)
            body_start = (first.end_lineno if docstring else first.lineno - 1)
            if docstring and len(node.body) == 1:
                body_start = first.end_lineno
            header = lines[start:body_start]
            inner = lines[body_start:node.end_lineno]
            indent = re.match(r"\s*", next((x for x in inner if x.strip()), "    "))[0] or "    "
            out += between + header + _region(inner, indent)
        elif loose:
            loose += between + lines[start:node.end_lineno]
        else:  # a new group of plain statements: the blank lines before it stay outside the markers
            blank = 0 if any(x.strip() for x in between) else len(between)  # only blank lines: all stay outside
            out += between[:blank]
            loose = between[blank:] + lines[start:node.end_lineno]
        previous_end = node.end_lineno
    out += _region(loose, "") if loose else []
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _code(text: str, metadata: dict) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [],
            "source": text.splitlines(keepends=True)}


def nbgrader_notebook(nb: dict, name: str = "notebook") -> dict:
    """The chapter as an nbgrader source notebook: each exercise with a checker becomes an answer cell (the
    worked solution inside nbgrader's markers) and a locked test cell asserting the checker; an exercise
    without a checker keeps its prompt and gets an ungraded cell for the student's answer."""
    exercises = parse_exercises(nb, name)
    cells = nb["cells"]
    by_prompt = {e.prompt: e for e in exercises}
    skip = {i for e in exercises for i in e.solutions} | {e.starter for e in exercises if e.starter is not None}
    out = []
    for i, cell in enumerate(cells):
        if i in skip:
            continue
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        out.append(cell)
        exercise = by_prompt.get(i)
        if exercise is None:
            continue
        if exercise.starter is None:
            out.append(_code("# Your answer (not autograded: your instructor reads it)\n", {}))
            continue
        starter = source(cells[exercise.starter])
        imports = [ast.get_source_segment(starter, n) for n in ast.parse(starter).body
                   if isinstance(n, (ast.Import, ast.ImportFrom))]
        solution = "\n\n".join(source(cells[j]) for j in exercise.solutions if cells[j]["cell_type"] == "code")
        answer = graded_answer(solution, exercise.check)
        missing = [line for line in imports if line not in answer]
        answer = "\n".join(missing + ([""] if missing else []) + [answer])
        tag = f"exercise-{exercise.number}"
        out.append(_code(answer + "\n", _nbgrader(f"{tag}-answer", solution=True, grade=False)))
        test = (f"feedback = {exercise.check}\nprint(feedback)\nassert feedback, repr(feedback)\n")
        out.append(_code(test, _nbgrader(f"{tag}-check", solution=False, grade=True, points=exercise.points)))
    result = copy.deepcopy(nb)
    result["cells"] = out
    result["metadata"].pop("widgets", None)  # the stored widget state of the full edition: not needed here
    return result


NBGRADER_CONFIG = '''\
# nbgrader configuration of the course generated by scripts/course_kit.py from the book's chapters.
c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "transformer-step-by-step"
# A chapter runs top to bottom when it is autograded; chapter 15 trains for about 100 s in one cell.
c.Execute.timeout = 900
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
'''


def write_nbgrader_course(target: Path, chapters: list[int] | None = None) -> list[str]:
    """target/nbgrader_config.py and target/source/chNN/<chapter file> for each chapter with graded exercises;
    returns the assignment names."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    names = []
    for path in chapter_paths():
        number = int(path.name[:2])
        if chapters and number not in chapters:
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not any(e.starter is not None for e in parse_exercises(nb, path.name)):
            continue
        name = f"ch{number:02d}"
        folder = target / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        out = nbgrader_notebook(nb, path.name)
        (folder / path.name).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        names.append(name)
    print(f"nbgrader course in {target}: assignments {', '.join(names)}")
    return names


# ---------- slides ----------

def plain_markdown(text: str) -> str:
    """MyST roles and directives as plain Markdown, for nbconvert (which does not know them): citations as
    [key], document links as their text, admonitions as a bold title and their body."""
    text = re.sub(r"\{cite(?::[a-z]+)?\}`([^`]*)`", lambda m: "[" + ", ".join(m[1].split(",")) + "]", text)
    text = re.sub(r"\{doc\}`([^`<]*?)\s*<[^>]*>`", r"\1", text)
    text = re.sub(r"\{[a-z]+\}`([^`]*)`", r"\1", text)

    def admonition(match: re.Match) -> str:
        name, title, body = match[2], match[3].strip(), match[4]
        body = "\n".join(line for line in body.splitlines() if not re.match(r":[a-z-]+:", line))
        heading = title if name == "admonition" else name.capitalize()
        return f"**{heading}.** {body.strip()}"

    return re.sub(r"(```|:::)\{([a-z]+)\}([^\n]*)\n(.*?)\1", admonition, text, flags=re.S)


def slide_cells(nb: dict, chapter: int) -> list[dict]:
    """A chapter's cells for a deck: up to its self-check, headings starting slides; solutions, interactive
    views (they need the book's widget manager) and long code left out; outputs and figures kept."""
    out = []
    for cell in nb["cells"]:
        text = source(cell)
        if cell["cell_type"] == "markdown" and re.match(r"#{1,2} (Self-check|Exercises)\b", text.lstrip()):
            break
        cell = copy.deepcopy(cell)
        cell["id"] = f"ch{chapter:02d}-{cell.get('id', len(out))}"  # unique across the session's chapters
        meta = cell.setdefault("metadata", {})
        slide = "-"
        if cell["cell_type"] == "markdown":
            cell["source"] = plain_markdown(text)
            first = text.lstrip().split("\n", 1)[0]
            slide = "slide" if re.match(r"#{1,2} ", first) else "subslide" if first.startswith("### ") else "-"
        else:
            outputs = [o for o in cell.get("outputs", [])  # widget views and bertviz diagrams need the book's
                       if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})  # scripts
                       and 'class="te-bertviz"' not in "".join(o.get("data", {}).get("text/html", ""))]
            if len(outputs) != len(cell.get("outputs", [])) and not outputs:
                slide = "skip"  # an interactive view: in the book
            cell["outputs"] = outputs
            if "hide-cell" in tags(cell) or "remove-cell" in tags(cell) or "setup" in tags(cell):
                slide = "skip"
            elif "hide-input" in tags(cell) or "remove-input" in tags(cell) or text.count("\n") >= 14:
                meta.setdefault("tags", []).append("slides-hide-input")
        meta["slideshow"] = {"slide_type": slide}
        out.append(cell)
    return out


def session_notebook(session: int) -> dict:
    title, numbers = SESSIONS[session]
    paths = {int(p.name[:2]): p for p in chapter_paths()}
    cover = {"cell_type": "markdown", "id": f"session-{session}-cover",  # nbformat 4.5: every cell has an id
             "metadata": {"slideshow": {"slide_type": "slide"}},
             "source": f"# Session {session}: {title}\n\nThe Transformer, Step by Step: chapters "
                       f"{', '.join(str(n) for n in numbers)}. Slides generated from the chapters; the "
                       f"interactive views, exercises and self-checks are in the book."}
    cells, metadata = [cover], {}
    for n in numbers:
        nb = json.loads(paths[n].read_text(encoding="utf-8"))
        metadata = metadata or {k: v for k, v in nb["metadata"].items() if k != "widgets"}
        cells += slide_cells(nb, n)
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_slides(target: Path, static_prefix: str = "../_static") -> list[Path]:
    """One self-contained reveal.js deck per session, target/session-N.html, loading reveal.js, require.js and
    MathJax from the book's own _static folder (static_prefix, relative to the deck)."""
    import nbformat
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"slides-hide-input"}
    config.SlidesExporter.reveal_url_prefix = f"{static_prefix}/offline/reveal"
    config.SlidesExporter.reveal_theme = "white"
    config.SlidesExporter.reveal_scroll = True
    config.SlidesExporter.require_js_url = f"{static_prefix}/offline/requirejs/require.js"
    config.SlidesExporter.jquery_url = f"{static_prefix}/offline/jquery/jquery.min.js"
    config.SlidesExporter.mathjax_url = f"{static_prefix}/offline/mathjax/tex-mml-chtml.js"
    config.SlidesExporter.font_awesome_url = ""
    config.SlidesExporter.template_file = str(Path(__file__).resolve().with_name("slides_offline.html.j2"))
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    exporter = SlidesExporter(config=config)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for session in SESSIONS:
        nb = nbformat.reads(json.dumps(session_notebook(session)), as_version=4)  # joins multi-line sources
        html, _ = exporter.from_notebook_node(nb)
        path = target / f"session-{session}.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    print(f"slides: {len(written)} decks in {target}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check every chapter's exercises against the format")
    student = sub.add_parser("student", help="the student edition into _build/student/")
    student.add_argument("--no-html", action="store_true", help="only the notebooks, not the HTML book")
    grader = sub.add_parser("nbgrader", help="an nbgrader course folder")
    grader.add_argument("--out", type=Path, default=ROOT / "_build" / "nbgrader")
    grader.add_argument("--chapters", type=int, nargs="*", help="only these chapter numbers")
    slides = sub.add_parser("slides", help="one reveal.js deck per session")
    slides.add_argument("--out", type=Path, default=ROOT / "_build" / "html" / "slides")
    args = parser.parse_args(argv)
    if args.command == "check":
        total = 0
        for path in chapter_paths():
            total += len(parse_exercises(json.loads(path.read_text(encoding="utf-8")), path.name))
        print(f"{total} exercises in {len(chapter_paths())} chapters follow the format")
        return 0
    if args.command == "student":
        return write_student_edition(ROOT / "_build" / "student", html=not args.no_html)
    if args.command == "nbgrader":
        write_nbgrader_course(args.out.resolve(), args.chapters)
        return 0
    write_slides(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
