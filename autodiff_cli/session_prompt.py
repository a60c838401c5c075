"""The session's prompt for people. With prompt_toolkit (the optional extra `adiff[prompt]`):
line editing, history kept across sessions in the user's data folder, Ctrl-R search, tab
completion (commands, options, functions, the session's names), a statement with an open
bracket continued on the next line, and syntax highlighting. Without it, a plain input()."""

from __future__ import annotations

import glob
import os
import re
import sys
from pathlib import Path
from typing import Any

from .ops import CONSTANTS, FUNCTIONS
from .session import BANNER, EXIT_INTERRUPTED, Session, run_script, tokens, unfinished

PROMPT, MORE = ">>> ", "... "
_WORD = re.compile(r"(--?[\w-]*|:?[^\W\d][\w]*|)$")  # the word being completed, before the cursor
STYLE = {"command": "bold ansiblue", "option": "ansimagenta", "function": "ansicyan",
         "number": "ansiyellow", "name": "", "defined": "bold", "comment": "italic ansibrightblack",
         "keyword": "bold ansigreen"}
_FILE_OPTIONS = ("-f", "--file", "-o", "--output", "--points")  # options whose value is a file
_TOKEN_STYLES = {"FUNC": "function", "NUMBER": "number", "EXPECT": "keyword", "WITHIN": "keyword"}


def history_path() -> Path:
    """Where other tools keep theirs: $XDG_DATA_HOME/adiff/history, else ~/.local/share/adiff/history."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "adiff" / "history"


def is_command_line(session: Session, text: str) -> bool:
    first, _, rest = text.lstrip().partition(" ")
    return (first in session.group.commands or first == "help" or first.startswith(":")) \
        and not rest.lstrip().startswith(("=", "("))


def completions(session: Session, before: str) -> tuple[str, list[str]]:
    """The word being typed and what may complete it: at the start of a line, commands and
    names; after a command, its options, or a file where it takes one; in a statement,
    functions and the session's names."""
    word = _file_word(session, before)
    if word is not None:
        found = glob.glob(glob.escape(word) + "*")
        return word, sorted(p + os.sep if os.path.isdir(p) else p for p in found)
    word = _WORD.search(before).group(1)  # type: ignore[union-attr]
    head = before[:len(before) - len(word)]
    words = head.split()
    names = [*session.names(), *CONSTANTS]
    if not words:
        candidates = [*session.group.commands, "help", ":vars", ":del", ":reset", ":load", ":save",
                      *names, *FUNCTIONS]
    elif words[0] == "help":
        candidates = list(session.group.commands)
    elif words[0] == ":del":
        candidates = list(session.definitions)
    elif is_command_line(session, head) and word.startswith("-"):
        command = session.group.commands.get(words[0])
        candidates = [o for p in (command.params if command else []) for o in p.opts if o.startswith("--")]
        candidates.append("--help")
    else:
        candidates = [*names, *FUNCTIONS]
    return word, sorted({c for c in candidates if c.startswith(word) and c != word})


def _file_word(session: Session, before: str) -> str | None:
    """The file name being typed where a command expects one (:load, :save, run, -f, -o, --points)."""
    words = before.split()
    word = "" if before[-1:].isspace() else words[-1] if words else ""
    previous = words[:-1] if word else words
    if not previous or word.startswith("-") or not is_command_line(session, before):
        return None
    return word if previous[0] in (":load", ":save", "run") or previous[-1] in _FILE_OPTIONS else None


def highlighted(session: Session, line: str) -> list[tuple[str, str]]:
    """A line of input as (style, text) pieces: a command and its options, or the language's tokens."""
    if is_command_line(session, line):
        return [(_class("option" if w.startswith("-") else "command" if i == 0 else ""), w)
                for i, w in enumerate(re.split(r"(\s+)", line))]
    try:
        toks = tokens(line)
    except Exception:  # noqa: BLE001 - a character the language does not have: shown plain
        return [("", line)]
    out, at = [], 0
    for t in toks:
        out.append(("", line[at:t.start_pos]))
        kind = _TOKEN_STYLES.get(t.type, "defined" if t.value in session.definitions else "")
        out.append((_class(kind), t.value))
        at = t.end_pos
    rest = line[at:]
    comment = rest.find("#")
    if comment >= 0:
        out += [("", rest[:comment]), (_class("comment"), rest[comment:])]
    else:
        out.append(("", rest))
    return [piece for piece in out if piece[1]]


def _class(kind: str) -> str:
    return f"class:{kind}" if kind else ""


def prompt_session(session: Session, **io: Any) -> Any:
    """A prompt_toolkit PromptSession for the session (`io`: input=, output= for tests)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.enums import DEFAULT_BUFFER
    from prompt_toolkit.filters import has_focus
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import Lexer
    from prompt_toolkit.styles import Style

    class SessionCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            word, found = completions(session, document.text_before_cursor)
            for candidate in found:
                yield Completion(candidate, start_position=-len(word))

    class SessionLexer(Lexer):
        def lex_document(self, document: Any) -> Any:
            return lambda i: highlighted(session, document.lines[i])

    keys = KeyBindings()

    @keys.add("enter", filter=has_focus(DEFAULT_BUFFER))  # not while Ctrl-R searches
    def _enter(event: Any) -> None:
        """Enter runs the line, unless a bracket is still open: then a new line."""
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion:
            buffer.complete_state = None  # Enter on a menu takes the completion
        elif unfinished(buffer.text):
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        history: Any = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()
    return PromptSession(PROMPT, history=history, completer=SessionCompleter(), lexer=SessionLexer(),
                         style=Style.from_dict(STYLE), key_bindings=keys, multiline=True,
                         prompt_continuation=MORE, complete_while_typing=False, **io)


def interactive(session: Session, read: Any = None) -> int:
    """The prompt: answers until Ctrl-D. Ctrl-C cancels the line being typed, or a computation.
    `read` reads a line (default: prompt_toolkit's prompt, or input())."""
    sys.stdout.write(BANNER + "\n")
    read = read or _reader(session)
    while True:
        try:
            text = read()
        except KeyboardInterrupt:
            continue
        except EOFError:
            sys.stdout.write("\n")
            return 0
        try:
            code = session.answer(text)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
        if code == EXIT_INTERRUPTED:
            sys.stderr.write("interrupted\n")


def _reader(session: Session) -> Any:
    """prompt_toolkit's prompt where it is installed and stdout is a terminal; else input()."""
    if sys.stdout.isatty():
        try:
            return prompt_session(session).prompt
        except ImportError:
            pass
    try:
        import readline  # noqa: F401 - input() then edits lines and keeps this session's history
    except ImportError:
        pass
    def read() -> str:
        text = input(PROMPT)
        while unfinished(text):
            text += "\n" + input(MORE)
        return text

    return read


def start(commands: Any, arrange: Any = None) -> int:
    """`adiff` with no arguments: the prompt on a terminal; piped input is a script. The
    arguments are those of Session."""
    session = Session(commands, arrange)
    if not sys.stdin.isatty():
        return run_script(session, sys.stdin)
    return interactive(session)
