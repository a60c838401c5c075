"""The session: `adiff` with no arguments. Each line is a statement of the language, which
extends the session's program (a name defined again is replaced, and what uses it follows),
or a command run by the shell's own Click definitions on that program, or a `:` command
(:vars, :del, :reset, :load, :save). Piped input is a script; on a terminal, a prompt
(session_prompt.py, with prompt_toolkit when it is installed)."""

from __future__ import annotations

import graphlib
import heapq
import os
import shlex
import shutil
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import typer

from autodiff_cli import __version__  # the package's own version (a relative import would name __init__)

from . import grammar
from .errors import EXIT_INTERNAL, EXIT_USAGE, AdiffError, NameLookupError, UsageError
from .inputs import read_text
from .ops import CONSTANTS

BANNER = f"adiff {__version__}, derivatives node by node. Type help, or a program; Ctrl-D quits."
EXIT_INTERRUPTED = 130
HELP = ("A line is a statement, which extends the session's program (v = x^2; f = exp(sin(v)); a name "
        "defined again is replaced, and what uses it follows; x = 3 gives the input x that value), or a "
        "command with the same options as in the shell, acting on the session's program unless given one "
        "(grad --at x=2, compare --eps 1e-3, help grad):")
KEYS = "Tab completes, Up and Ctrl-R search the history, Ctrl-C cancels, Ctrl-D quits."
META = {":vars": "the session's names, definitions and values",
        ":del NAME": "forget a definition (several: :del u,v)",
        ":reset": "forget every definition",
        ":load FILE": "add a program file's statements (and expect lines) to the session",
        ":save FILE": "write the session's program to FILE, for adiff run or adiff grad -f"}


@dataclass(frozen=True)
class Definition:
    """One statement of the session's program, as typed."""

    name: str | None  # None for an expect line
    text: str  # "v = x^2"
    uses: frozenset[str]  # the names it reads
    is_value: bool = False  # `x = 3`: an input with a value
    bare: bool = False  # typed as a bare expression, named f (or result) by the session


def tokens(text: str) -> list[Any]:
    """The language's tokens of a text (comments and spaces left out), by the grammar's own
    lexer; a new line inside brackets is not a separator. Raises lark's error on a bad character."""
    return list(grammar._parser().lex(text))  # noqa: SLF001 - the one lexer of the language


def unfinished(text: str) -> bool:
    """True while a bracket is open: the statement goes on on the next line."""
    try:
        kinds = [t.type for t in tokens(text)]
    except Exception:  # noqa: BLE001 - a bad character: the parser will say where
        return False
    return kinds.count("LPAR") + kinds.count("LSQB") > kinds.count("RPAR") + kinds.count("RSQB")


def _statements(text: str) -> Iterator[tuple[str, list[Any]]]:
    """Each statement of a text with its tokens, split where the grammar splits them."""
    piece: list[Any] = []
    for token in [*tokens(text), None]:
        if token is not None and token.type != "_SEP":
            piece.append(token)
        elif piece:
            yield text[piece[0].start_pos:piece[-1].end_pos], piece
            piece = []


def _names_read(toks: list[Any]) -> frozenset[str]:
    """Names a statement reads: NAME tokens, except one followed by '=' (what it defines, or a
    keyword argument such as axis=0)."""
    return frozenset(t.value for i, t in enumerate(toks) if t.type == "NAME"
                     and not (i + 1 < len(toks) and toks[i + 1].type == "EQUAL"))


def _as_value(name: str, expression: str, statement: str) -> tuple[str, bool]:
    """`x = pi/4`: an expression of numbers gives x that value, as --at x=pi/4 does (in a file it
    would be a constant step): written as the number, the expression kept in a comment."""
    from .inputs import value_of
    from .printing import array_literal, format_number

    try:
        value = value_of(expression, name)
    except AdiffError:
        return statement, False
    if not np.isfinite(value).all() or np.size(value) > 1000:  # a big array stays a step, not a literal
        return statement, False
    number = format_number(float(value)) if np.ndim(value) == 0 else array_literal(np.asarray(value))
    return (statement if number == expression else f"{name} = {number}  # {expression}"), True


def in_order(definitions: dict[str, Definition], latest: str | None = None) -> list[Definition]:
    """The definitions as a program: values first, then each formula after the names it reads,
    otherwise in the order they were first defined (so the latest formula is usually the last
    statement, the default target). A name that would read itself is a UsageError, which
    follows the cycle from `latest` (the name just defined)."""
    formulas = {n: d for n, d in definitions.items() if not d.is_value}
    first_defined = {name: i for i, name in enumerate(formulas)}
    sorter = graphlib.TopologicalSorter({n: sorted(d.uses & formulas.keys()) for n, d in formulas.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as err:
        cycle = err.args[1][:-1]  # each name is read by the next
        start = latest if latest in cycle else cycle[0]
        cycle = cycle[cycle.index(start):] + cycle[:cycle.index(start) + 1]
        raise UsageError(f"{start} would depend on itself ({' → '.join(cycle)}): "
                         "a session keeps one definition per name; use a new name") from None
    ready: list[tuple[int, str]] = []
    order = []
    while sorter.is_active():
        for name in sorter.get_ready():
            heapq.heappush(ready, (first_defined[name], name))
        _, name = heapq.heappop(ready)
        order.append(formulas[name])
        sorter.done(name)
    return [d for d in definitions.values() if d.is_value] + order


def write_atomically(path: str, text: str) -> None:
    """Write a file whole or not at all: a temporary file beside it, then os.replace."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".adiff-", suffix=".tmp")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError as err:
        os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {err.strerror}") from None


class Session:
    """The session's program and the commands that act on it. `commands` builds the shell's
    Click group (typer.main.get_command), on first use; `arrange(group, args)` is what the
    shell does to a command line before Click reads it (cli.program_first), if anything."""

    def __init__(self, commands: Callable[[], Any],
                 arrange: Callable[[Any, list[str]], list[str]] | None = None):
        self._make_group = commands
        self._arrange = arrange or (lambda group, args: args)
        self._group: Any = None
        self.definitions: dict[str, Definition] = {}
        self.expects: list[Definition] = []

    @property
    def group(self) -> Any:
        if self._group is None:
            self._group = self._make_group()
        return self._group

    # -- the program ---------------------------------------------------------------------------

    def program_text(self) -> str:
        """The session's program, as a file `adiff run` and `adiff grad -f` read."""
        return "\n".join(d.text for d in [*in_order(self.definitions), *self.expects])

    def names(self) -> list[str]:
        """Defined names, then names read but not defined (inputs without a value)."""
        read = [n for d in [*self.definitions.values(), *self.expects] for n in sorted(d.uses)]
        free = [n for n in dict.fromkeys(read) if n not in self.definitions and n not in CONSTANTS]
        return [*self.definitions, *free]

    def define(self, text: str) -> str | None:
        """Add a line's statements to the program (all or none); returns the name a bare
        expression was given, if there is one."""
        pieces = list(_statements(text))
        line = None
        if any(toks[0].type != "EXPECT" for _, toks in pieces):
            try:
                line = grammar.read(text)  # errors placed in the text as typed, as on the shell
            except AdiffError as err:
                # One that only the order of the line makes (`f = exp(x); x = 2`: x read, then
                # given a value) is not one here: the session orders the statements.
                for piece, toks in pieces:
                    try:
                        if toks[0].type != "EXPECT":
                            grammar.read(piece)
                    except AdiffError:
                        raise err from None
        definitions, expects, bare_name, name = dict(self.definitions), list(self.expects), None, None
        for piece, toks in pieces:
            if toks[0].type == "EXPECT":
                expects.append(Definition(None, piece, _names_read(toks)))
                continue
            if len(toks) > 1 and toks[0].type == "NAME" and toks[1].type == "EQUAL":
                name, statement, bare = toks[0].value, piece, False
            else:
                bare_name = name = self._bare_name(definitions)
                statement, bare = f"{name} = {piece}", True
            # `x = 3`, `W = [[1, 2]]`: a value, as the grammar reads it (in the line when it read it)
            read = grammar.read(statement) if line is None or bare else line
            is_value = name in read.defaults and read.bindings.get(name) == read.inputs.get(name)
            if not (is_value or bare or _names_read(toks) - CONSTANTS.keys()):
                statement, is_value = _as_value(name, piece.partition("=")[2].strip(), statement)
            # A name defined again keeps its place in the dict, so the order of first definition.
            definitions[name] = Definition(name, statement, _names_read(toks), is_value, bare)
        if pieces:
            from .parse import parse

            parse("\n".join(d.text for d in [*in_order(definitions, name), *expects]))
            self.definitions, self.expects = definitions, expects
        return bare_name

    @staticmethod
    def _bare_name(definitions: dict[str, Definition]) -> str:
        """A bare expression is f, as in a program file; result when f is the user's own name."""
        f = definitions.get("f")
        used = any("f" in d.uses for d in definitions.values())
        return "f" if (f.bare if f is not None else not used) else "result"

    def values(self) -> dict[str, Any] | None:
        """Each name's value at the program's own input values; None when an input has none."""
        from .engine import forward
        from .inputs import input_values
        from .parse import parse

        prog = parse(self.program_text())
        try:
            values, _ = forward(prog, input_values(prog, {}))
        except NameLookupError:
            return None
        return {name: values[node] for name, node in {**prog.inputs, **prog.bindings}.items()}

    # -- lines ---------------------------------------------------------------------------------

    def answer(self, line: str) -> int:
        """Do what a line says and print the answer; its exit code. Errors are printed, as on
        the shell, and never end the session. Ctrl-C (KeyboardInterrupt) is left to the caller."""
        text = line.strip()
        try:
            if not text or text.startswith("#"):
                return 0
            return self._answer(text)
        except AdiffError as err:
            sys.stderr.write(err.render() + "\n")
            return err.exit_code
        except Exception as err:  # noqa: BLE001 - a lark error that slipped past: say so, go on
            sys.stderr.write(f"internal error: {type(err).__name__}: {err}\n")
            return EXIT_INTERNAL
        finally:
            sys.stdout.flush()

    def _answer(self, text: str) -> int:
        if text.startswith(":"):
            return self._colon_command(text)
        first, _, rest = text.partition(" ")
        is_command = not rest.lstrip().startswith(("=", "("))
        if first == "help" and is_command:
            return self.help(rest.strip())
        if first in self.group.commands and is_command:
            try:
                words = shlex.split(text)
            except ValueError as err:
                raise UsageError(f"cannot read the command: {err}") from None
            return self.command(words[0], words[1:])
        named = self.define(text)
        if named is not None:
            values = self.values()
            if values is not None:
                from .render import fmt

                sys.stdout.write(f"{named} = {fmt(values[named])}\n")
        return 0

    def command(self, name: str, args: list[str]) -> int:
        """A shell command on the session's program (unless given one): the same options, the
        same output and the same exit code as `adiff NAME ARGS...`."""
        command = self.group.commands[name]
        args = self._arrange(self.group, [name, *args])[1:]  # a program may start with '-', as in the shell
        if "program" in {p.name for p in command.params} and not self._gives_program(name, args):
            if not self.definitions and "--help" not in args:
                raise UsageError("the session has no program yet: type one (v = x^2; f = exp(sin(v))), "
                                 f":load FILE, or give it to the command: {name} \"exp(sin(x^2))\"")
            if self.definitions:
                args = [*args, "--", self.program_text()]
        return self.invoke([name, *args])

    def _gives_program(self, name: str, args: list[str]) -> bool:
        """Whether the arguments give the command a program (PROGRAM or -f), read as Click reads
        them (under the group's context, whose settings such as -h the command inherits)."""
        group = self.group
        parent = group.context_class(group, info_name="adiff", **group.context_settings)
        try:
            ctx = group.commands[name].make_context(name, list(args), parent=parent, resilient_parsing=True)
        except Exception:  # noqa: BLE001 - a bad option: the real run reports it
            return False
        return ctx.params.get("program") is not None or ctx.params.get("file") is not None

    def invoke(self, args: list[str]) -> int:
        """Run `adiff ARGS...` in this process, through the shell's Click group."""
        try:
            code = self.group.main(self._arrange(self.group, args), prog_name="adiff", standalone_mode=False)
        except typer.TyperException as err:  # Click's usage errors: shown as the shell shows them
            show = getattr(err, "show", None)
            if show is None:
                raise
            show()
            return int(getattr(err, "exit_code", EXIT_USAGE))
        except typer.Abort:
            return EXIT_INTERRUPTED
        except SystemExit as err:
            return err.code if isinstance(err.code, int) else EXIT_USAGE
        except Exception:  # noqa: BLE001 - with --debug the command re-raises its error
            if "--debug" not in args:
                raise
            traceback.print_exc()
            return EXIT_INTERNAL
        return code if isinstance(code, int) else 0

    def help(self, topic: str) -> int:
        if topic:
            if topic not in self.group.commands:
                raise UsageError(f"no command '{topic}': the commands are {', '.join(self.group.commands)}")
            return self.invoke([topic, "--help"])
        width = max(len(k) for k in [*META, *self.group.commands]) + 2
        columns = max(60, min(shutil.get_terminal_size().columns, 100))
        out = textwrap.wrap(HELP, columns - 1) + [""]
        out += [f"  {name.ljust(width)}{cmd.get_short_help_str(limit=columns - 3 - width)}"
                for name, cmd in self.group.commands.items()]
        out += ["", "Session commands:"]
        out += [line for k, v in META.items()
                for line in textwrap.wrap(v, columns - 1, initial_indent=f"  {k.ljust(width)}",
                                          subsequent_indent=" " * (width + 2))]
        out += [""] + textwrap.wrap(KEYS, columns - 1)
        sys.stdout.write("\n".join(out) + "\n")
        return 0

    # -- : commands ----------------------------------------------------------------------------

    def _colon_command(self, text: str) -> int:
        word, _, arg = text.partition(" ")
        arg = arg.strip()
        if word == ":vars":
            return self.show_vars()
        if word == ":reset":
            self.definitions, self.expects = {}, []
            return 0
        if word in (":del", ":load", ":save") and not arg:
            raise UsageError(f"{word} needs {'a name' if word == ':del' else 'a file'}: {word} "
                             f"{'NAME' if word == ':del' else 'FILE'}")
        if word == ":del":
            return self.delete([n.strip() for n in arg.split(",") if n.strip()])
        if word == ":load":
            self.define(read_text(arg))
            return 0
        if word == ":save":
            if not self.definitions:
                raise UsageError("the session has no program to save yet")
            write_atomically(arg, self.program_text() + "\n")
            sys.stdout.write(f"saved {len(self.definitions) + len(self.expects)} lines to {arg}\n")
            return 0
        raise UsageError(f"unknown session command {word}: the session commands are "
                         f"{', '.join(k.split()[0] for k in META)}")

    def delete(self, names: list[str]) -> int:
        unknown = [n for n in names if n not in self.definitions]
        if unknown:
            raise NameLookupError(f":del {unknown[0]}: the session has no definition named '{unknown[0]}' "
                                  f"(it has: {', '.join(self.definitions) or 'none'})")
        for name in names:
            del self.definitions[name]
        self.expects = [e for e in self.expects if not e.uses & set(names)]
        readers = [d.name for d in self.definitions.values() if d.uses & set(names)]
        if readers:
            sys.stderr.write(f"note: {', '.join(readers)} now {'reads' if len(readers) == 1 else 'read'} "
                             f"{', '.join(names)} as an input "
                             "without a value (give one: NAME = VALUE, or --at)\n")
        return 0

    def show_vars(self) -> int:
        from .render import Table, fmt, print_tables

        if not self.definitions:
            sys.stdout.write("the session has no definitions yet\n")
            return 0
        values = self.values() or {}
        rows = [[d.name or "", " ".join(d.text.partition("=")[2].split()), "input" if d.is_value else "step",
                 fmt(values.get(d.name))] for d in in_order(self.definitions)]
        rows += [[name, "", "input", "no value"] for name in self.names() if name not in self.definitions]
        table = Table("The session's names", ["name", "definition", "kind", "value"], rows,
                      [e.text for e in self.expects])
        print_tables([table])
        return 0


def lines_of(stream: Iterable[str]) -> Iterator[str]:
    """The lines of a script, a line with an open bracket joined to the lines that close it."""
    pending = ""
    for line in stream:
        pending += line
        if not unfinished(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def run_script(session: Session, stream: Iterable[str]) -> int:
    """Piped input: each line answered in order, nothing interactive shown; the exit code is
    the first error's (0 when there was none)."""
    first_error = 0
    try:
        for text in lines_of(stream):
            code = session.answer(text)
            if code == EXIT_INTERRUPTED:  # Ctrl-C stops a script
                return code
            first_error = first_error or code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return first_error
