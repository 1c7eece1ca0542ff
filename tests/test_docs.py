"""The documentation agrees with the code.

Sidecar examples in the docs parse. The admin guide explains every Russian message the
courier writes into error.json, status files, feedback records or its start-up
refusals, and it names every setting. The two READMEs have the same structure.

The messages are found by reading the source with `ast`, so a new error raised anywhere
in the courier fails this test until docs/ru/admin.md explains it.
"""

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.settings import Settings
from delivery.sidecar import parse_sidecar
from tests.processes import PROJECT_ROOT

ADMIN_GUIDE = PROJECT_ROOT / "docs" / "ru" / "admin.md"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
READMES = (PROJECT_ROOT / "README.md", PROJECT_ROOT / "README.ru.md")
DOC_FILES = (*READMES, *sorted((PROJECT_ROOT / "docs").rglob("*.md")))

MESSAGE_PACKAGES = ("config", "watcher", "tasks", "delivery", "feedback")
# The sandbox imitates the English 1C-Connect API; its texts are not the courier's.
EXCLUDED_FOLDERS = (Path("delivery") / "sandbox",)
# Command-line modules print their usage errors to the admin's terminal, next to the
# command's --help, so those errors are not part of the troubleshooting table.
COMMAND_LINE_MODULES = (Path("tasks") / "cli", Path("feedback") / "cli.py")

# Exceptions whose message is a Russian sentence for the 1C user or the admin. Their
# subclasses anywhere in the packages count too.
MESSAGE_ROOTS = frozenset({
    "DeliveryError", "SettingsError", "HookError", "FileDownloadError", "InvalidEventError",
})
# Shorter constant text is too common to pin a message down, in characters.
MIN_FRAGMENT_CHARS = 12
# Constant segments kept from one f-string: the longest ones.
SEGMENTS_PER_FSTRING = 2
# Depth limit for following names and helper functions that build a message.
MAX_RESOLVE_DEPTH = 8

CYRILLIC = re.compile("[а-яА-ЯёЁ]")
FENCE = re.compile(r"^ {0,3}```(?P<info>[^`\n]*)\n(?P<body>.*?)^ {0,3}```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
# A str.format() field such as {name} in a message template.
TEMPLATE_FIELD = re.compile(r"\{\w*\}")


# --- Markdown helpers -------------------------------------------------------------------

@dataclass
class CodeBlock:
    path: Path
    line: int
    info: str
    body: str


def code_blocks(path: Path) -> list[CodeBlock]:
    """Return the fenced code blocks of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    return [CodeBlock(path, text.count("\n", 0, match.start()) + 1,
                      match["info"].strip(), match["body"])
            for match in FENCE.finditer(text)]


def rendered_text(path: Path) -> str:
    """Return a Markdown file's text without backslash escapes, whitespace collapsed."""
    text = MARKDOWN_ESCAPE.sub(r"\1", path.read_text(encoding="utf-8"))
    return normalize_spaces(text)


def normalize_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def sidecar_examples() -> list[CodeBlock]:
    return [block for path in DOC_FILES for block in code_blocks(path)
            if block.info == "json" and '"document_id"' in block.body
            and '"recipients"' in block.body]


# --- Collecting the courier's messages from the source -----------------------------------

@dataclass(frozen=True)
class Fragment:
    """A piece of constant text that must appear verbatim in the admin guide."""

    text: str
    source: str


class SourceIndex:
    """Parsed modules of the message packages, with names to look definitions up by.

    Functions and module-level assignments are kept with the path of their module, so a
    fragment can name the file and line of the text itself.
    """

    def __init__(self, paths: list[Path]):
        self.modules = {path: ast.parse(path.read_text(encoding="utf-8"), str(path))
                        for path in paths}
        self.functions: dict[str, list[tuple[ast.AST, Path]]] = {}
        self.globals: dict[str, list[tuple[ast.expr, Path]]] = {}
        self.bases: dict[str, set[str]] = {}
        for path, tree in self.modules.items():
            self._index(tree, path)

    def _index(self, tree: ast.Module, path: Path) -> None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append((node, path))
            elif isinstance(node, ast.ClassDef):
                self.bases[node.name] = {_called_name(base) for base in node.bases}
        for statement in tree.body:
            for name, value in _assigned(statement):
                self.globals.setdefault(name, []).append((value, path))

    def message_classes(self) -> set[str]:
        """Return MESSAGE_ROOTS and every class that inherits from one, at any depth."""
        found = set(MESSAGE_ROOTS)
        grown = True
        while grown:
            grown = False
            for name, bases in self.bases.items():
                if name not in found and bases & found:
                    found.add(name)
                    grown = True
        return found


def _called_name(node: ast.expr) -> str:
    """Return the last name of `X`, `module.X` or `X(...)`."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def local_assignments(scope: ast.AST, name: str) -> list[ast.expr]:
    """Return the values assigned to `name` anywhere inside a function."""
    values = []
    for statement in ast.walk(scope):
        if isinstance(statement, ast.stmt):
            values += [value for bound, value in _assigned(statement) if bound == name]
    return values


def _assigned(statement: ast.stmt) -> list[tuple[str, ast.expr]]:
    """Return (name, value) for each plain name an assignment statement binds."""
    if isinstance(statement, ast.Assign):
        pairs = []
        for target in statement.targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            pairs += [(name.id, statement.value) for name in names if isinstance(name, ast.Name)]
        return pairs
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        if isinstance(statement.target, ast.Name):
            return [(statement.target.id, statement.value)]
    return []


@dataclass(frozen=True)
class Place:
    """Where the resolver is: the scope that names are looked up in, and its file."""

    scope: ast.AST
    path: Path


class MessageResolver:
    """Turns the expression that builds a message into the constant text it contains.

    A name is followed to its assignments in the enclosing function, then to module-level
    assignments. A call of one of the packages' functions is followed to its `return`s,
    and `.get()`, `.format()` or `[...]` on a dict reaches the dict's values. Text that
    the program fills in at run time (a file name, a count) is left out, so an f-string
    or a template with `{name}` fields gives its longest constant segments.
    """

    def __init__(self, index: SourceIndex):
        self.index = index

    def fragments(self, node: ast.AST | None, place: Place, depth: int = 0) -> list[Fragment]:
        if depth > MAX_RESOLVE_DEPTH or node is None:
            return []
        deeper = depth + 1
        if isinstance(node, ast.Constant):
            return self._constant(node, place)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, place, deeper)
        if isinstance(node, ast.Name):
            return self._name(node.id, place, deeper)
        if isinstance(node, ast.Call):
            return self._call(node, place, deeper)
        if isinstance(node, ast.Subscript):
            return self.fragments(node.value, place, deeper)
        if isinstance(node, ast.IfExp):
            parts = [node.body, node.orelse]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [node.left, node.right]
        elif isinstance(node, ast.Dict):
            parts = node.values
        elif isinstance(node, (ast.Tuple, ast.List)):
            parts = node.elts
        elif isinstance(node, ast.BoolOp):
            parts = node.values
        else:
            return []
        return [found for part in parts for found in self.fragments(part, place, deeper)]

    def _constant(self, node: ast.Constant, place: Place) -> list[Fragment]:
        if not isinstance(node.value, str):
            return []
        segments = TEMPLATE_FIELD.split(node.value)
        texts = segments if len(segments) == 1 else longest_segments(segments)
        return [Fragment(text, f"{place.path.relative_to(PROJECT_ROOT)}:{node.lineno}")
                for text in texts]

    def _fstring(self, node: ast.JoinedStr, place: Place, depth: int) -> list[Fragment]:
        segments = [part.value for part in node.values
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)]
        source = f"{place.path.relative_to(PROJECT_ROOT)}:{node.lineno}"
        found = [Fragment(text, source) for text in longest_segments(segments)]
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                found += self.fragments(part.value, place, depth)
        return found

    def _name(self, name: str, place: Place, depth: int) -> list[Fragment]:
        if not isinstance(place.scope, ast.Module):
            local = local_assignments(place.scope, name)
            if local:
                return [found for value in local
                        for found in self.fragments(value, place, depth)]

        found = []
        for value, path in self.index.globals.get(name, []):
            found += self.fragments(value, Place(self.index.modules[path], path), depth)
        return found

    def _call(self, node: ast.Call, place: Place, depth: int) -> list[Fragment]:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "format"):
            defaults = node.args[1:] if func.attr == "get" else []
            return [found for part in (func.value, *defaults)
                    for found in self.fragments(part, place, depth)]
        found = []
        for function, path in self.index.functions.get(_called_name(func), []):
            for statement in ast.walk(function):
                if isinstance(statement, ast.Return):
                    found += self.fragments(statement.value, Place(function, path), depth)
        return found


def longest_segments(segments: list[str]) -> list[str]:
    """Return the SEGMENTS_PER_FSTRING longest stripped segments of MIN_FRAGMENT_CHARS or more."""
    stripped = [segment.strip() for segment in segments]
    long_enough = [segment for segment in stripped if len(segment) >= MIN_FRAGMENT_CHARS]
    return sorted(long_enough, key=len, reverse=True)[:SEGMENTS_PER_FSTRING]


class MessageCollector(ast.NodeVisitor):
    """AST visitor that collects the messages for people built in one module.

    It looks at:
    - a construction of a message class (first argument or `message=`), and a class-level
      `message = ...` inside such a class;
    - `missing_setting(NAME, PURPOSE)`, whose sentence names the setting and its purpose;
    - status messages: a `message=` argument, a "message" key, a variable named
      `message`, and module constants named `*_MESSAGE` or `*_MESSAGES`;
    - start-up refusals: text printed to stderr, and a Russian message raised with any
      other exception type outside the command-line modules.
    """

    def __init__(self, index: SourceIndex, resolver: MessageResolver, path: Path,
                 classes: set[str]):
        self.index = index
        self.resolver = resolver
        self.path = path
        self.relative = path.relative_to(PROJECT_ROOT)
        self.classes = classes
        self.command_line = any(self.relative.is_relative_to(module)
                                for module in COMMAND_LINE_MODULES)
        self.scopes: list[ast.AST] = []
        self.fragments: list[Fragment] = []

    def collect(self) -> list[Fragment]:
        self.visit(self.index.modules[self.path])
        return self.fragments

    def _add(self, value: ast.AST | None) -> None:
        for fragment in self.resolver.fragments(value, Place(self.scopes[-1], self.path)):
            text = normalize_spaces(fragment.text)
            if len(text) >= MIN_FRAGMENT_CHARS and CYRILLIC.search(text):
                self.fragments.append(Fragment(text, fragment.source))

    def _visit_scope(self, node: ast.AST) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = _visit_scope

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name in self.classes:
            for statement in node.body:
                for name, value in _assigned(statement):
                    if name == "message":
                        self._add(value)
        self.generic_visit(node)

    def _constructs_message(self, call: ast.Call) -> bool:
        """Tell whether a call builds a message class, also through a local alias.

        `error_class = RateLimitedError if ... else TransientDeliveryError` followed by
        `error_class(...)` counts as a construction.
        """
        name = _called_name(call.func)
        if name in self.classes:
            return True
        if not isinstance(call.func, ast.Name) or isinstance(self.scopes[-1], ast.Module):
            return False

        for value in local_assignments(self.scopes[-1], name):
            named = {part.id for part in ast.walk(value) if isinstance(part, ast.Name)}
            if named & self.classes:
                return True
        return False

    def visit_Call(self, node: ast.Call) -> None:
        name = _called_name(node.func)
        if self._constructs_message(node):
            self._add(node.args[0] if node.args else None)
        if name == "missing_setting" and len(node.args) == 2:
            self._add_missing_setting(node)
        for keyword in node.keywords:
            if keyword.arg == "message":
                self._add(keyword.value)
        if name == "print" and any(keyword.arg == "file" for keyword in node.keywords):
            for arg in node.args:
                self._add(arg)
        self.generic_visit(node)

    def _add_missing_setting(self, node: ast.Call) -> None:
        setting, purpose = node.args
        if isinstance(setting, ast.Constant) and isinstance(purpose, ast.Constant):
            text = f"{setting.value} ({purpose.value})"
            self.fragments.append(Fragment(text, f"{self.relative}:{node.lineno}"))

    def visit_Raise(self, node: ast.Raise) -> None:
        exception = node.exc
        if (isinstance(exception, ast.Call) and exception.args and not self.command_line
                and _called_name(exception) not in self.classes):
            self._add(exception.args[0])
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == "message":
                self._add(value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for name, value in _assigned(node):
            module_constant = len(self.scopes) == 1 and name.endswith(("_MESSAGE", "_MESSAGES"))
            if name == "message" or module_constant:
                self._add(value)
        self.generic_visit(node)


def message_sources() -> list[Path]:
    paths = []
    for package in MESSAGE_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT)
            if not any(relative.is_relative_to(folder) for folder in EXCLUDED_FOLDERS):
                paths.append(path)
    return paths


def collect_message_fragments() -> list[Fragment]:
    """Return every distinct message fragment with the first place that builds it."""
    index = SourceIndex(message_sources())
    resolver = MessageResolver(index)
    classes = index.message_classes()
    unique: dict[str, Fragment] = {}
    for path in index.modules:
        for fragment in MessageCollector(index, resolver, path, classes).collect():
            unique.setdefault(fragment.text, fragment)
    return sorted(unique.values(), key=lambda fragment: fragment.source)


@pytest.fixture(scope="module")
def fragments() -> list[Fragment]:
    return collect_message_fragments()


# --- Tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("block", sidecar_examples(),
                         ids=lambda block: f"{block.path.relative_to(PROJECT_ROOT)}:{block.line}")
def test_sidecar_example_parses(block):
    sidecar = parse_sidecar(block.body.encode("utf-8"), "пример.json")
    assert sidecar.recipients


def test_docs_contain_sidecar_examples():
    paths = {block.path for block in sidecar_examples()}
    assert PROJECT_ROOT / "README.md" in paths
    assert PROJECT_ROOT / "docs" / "ru" / "1c" / "README.md" in paths


def test_collector_finds_known_messages(fragments):
    texts = {fragment.text for fragment in fragments}
    expected = [
        # A DeliveryError subclass with a class-level default message.
        "1С-Коннект отклонил учётные данные API (ответ 401): проверьте CONNECT_LOGIN и "
        "CONNECT_PASSWORD; документ остаётся в очереди и будет отправлен после исправления.",
        # missing_setting() in the worker's start-up check.
        "CONNECT_LOGIN (логин пользователя API 1С-Коннект)",
        # A reason from the sidecar validator's table.
        "список получателей пуст; добавьте хотя бы одного получателя",
        # A status message constant.
        "Документ в очереди на отправку в 1С-Коннект.",
    ]
    for text in expected:
        assert text in texts
    assert any("без пароля. Задайте FLOWER_BASIC_AUTH" in text for text in texts)
    assert any("смонтируйте общую папку целиком" in text for text in texts)


def test_admin_guide_explains_every_message(fragments):
    guide = rendered_text(ADMIN_GUIDE)
    missing = [fragment for fragment in fragments if fragment.text not in guide]
    listing = "\n".join(f"  {fragment.source}: {fragment.text}" for fragment in missing)
    assert not missing, (
        f"docs/ru/admin.md does not contain {len(missing)} of {len(fragments)} message "
        f"fragments. Add each message to the troubleshooting table, with the text between "
        f"the run-time values written out verbatim:\n{listing}")


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_setting_documented_in_admin_guide(name):
    assert re.search(rf"\b{name}\b", ADMIN_GUIDE.read_text(encoding="utf-8")), name


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_setting_listed_in_env_example(name):
    assert re.search(rf"^{name}=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE), name


def test_readmes_have_same_headings():
    counts = [len(re.findall(r"^## ", path.read_text(encoding="utf-8"), re.MULTILINE))
              for path in READMES]
    assert counts[0] == counts[1]


def test_readmes_have_same_code_blocks():
    english, russian = (code_blocks(path) for path in READMES)
    shapes = [[(block.info, block.body.count("\n")) for block in blocks]
              for blocks in (english, russian)]
    assert shapes[0] == shapes[1]
    for english_block, russian_block in zip(english, russian):
        if english_block.info == "json":
            assert json.loads(english_block.body) == json.loads(russian_block.body)
