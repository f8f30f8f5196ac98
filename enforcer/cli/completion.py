"""``enforce completion bash|zsh``: tab completion of commands, options and files, generated from the parser.

One source: the script lists what the parser defines, so a new option completes with no edit here.

    eval "$(enforce completion bash)"        # in ~/.bashrc
    eval "$(enforce completion zsh)"         # in ~/.zshrc (through zsh's bashcompinit)
"""

from __future__ import annotations

import argparse

from rich.console import Console

from enforcer.cli._common import EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser(
        "completion",
        help='Print a shell\'s tab-completion script: eval "$(enforce completion bash)".',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("shell", choices=("bash", "zsh"))
    sub.set_defaults(run=run)


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from enforcer.cli import parser  # the whole command line, this command included

    print(script(parser(), args.shell))
    return EXIT_OK


def script(top: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell``: commands (and ``lab`` subcommands), their options, files."""
    cases = [f'    "") opts="{" ".join([*_commands(top), *_options(top)])}" ;;']
    for name, sub in _commands(top).items():
        cases.append(f'    "{name}") opts="{" ".join([*_commands(sub), *_options(sub)])}" ;;')
        for inner, leaf in _commands(sub).items():
            cases.append(f'    "{name} {inner}") opts="{" ".join(_options(leaf))}" ;;')
    body = "\n".join(cases)
    completion = f"""_enforce() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" key="" opts="" i n=0
  for ((i = 1; i < COMP_CWORD; i++)); do  # the command, and lab's subcommand: the first non-option words
    case "${{COMP_WORDS[i]}}" in
      -*) ;;
      *) if ((n == 0)) || [[ $n == 1 && $key == lab ]]; then
           key="${{key:+$key }}${{COMP_WORDS[i]}}"; n=$((n + 1))
         fi ;;
    esac
  done
  case "$key" in
{body}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  [[ -z "$key" || "$cur" == -* ]] || COMPREPLY+=($(compgen -f -- "$cur"))
}}
complete -o filenames -F _enforce enforce
"""
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + completion
    return completion


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for action in parser._actions for o in action.option_strings if o.startswith("--") or len(o) == 2]
