"""``cgmob-ibi``: run or resume an iterative inversion in a directory (no AiiDA import).

The directory holds ``ibi_input.json`` and ``target.npz`` (see ``aiida_cgmob.ibi.driver``).  Running
the command again in the same directory resumes from the last completed iteration.  Exit status:
0 converged, 3 not converged within max_iterations or stalled (the best potential is still written), 4 diverged,
5 LAMMPS failed, 2 bad input (``ibi_result.json`` says why in every case), 1 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ['main']


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='cgmob-ibi', description=__doc__.split('\n\n')[0])
    parser.add_argument('directory', nargs='?', default='.', help='working directory (default: .)')
    parser.add_argument('--lmp', help='LAMMPS executable (overrides ibi_input.json)')
    parser.add_argument('--threads', type=int, help='OpenMP threads for LAMMPS (overrides ibi_input.json)')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run or resume the inversion in a directory; return the exit status (see the module docstring).

    ``argv`` are the arguments after the program name (default ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    from .driver import (
        EXIT_BAD_INPUT,
        EXIT_CONVERGED,
        EXIT_DIVERGED,
        EXIT_ENGINE,
        EXIT_NOT_CONVERGED,
        RESULT_FILE,
        IbiInputError,
        run_ibi,
    )

    directory = Path(args.directory)
    if not directory.is_dir():
        print(f'cgmob-ibi: error: {directory} is not a directory', file=sys.stderr)
        return 1
    try:
        result = run_ibi(directory, lmp=args.lmp, threads=args.threads)
    except (IbiInputError, FileNotFoundError, json.JSONDecodeError) as exception:
        message = f'{type(exception).__name__}: {exception}' if not isinstance(exception, IbiInputError) else str(
            exception)
        (directory / RESULT_FILE).write_text(json.dumps({'status': 'bad_input', 'message': message,
                                                         'converged': False}, indent=1))
        print(f'cgmob-ibi: bad input: {message}', file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f'cgmob-ibi: {result["status"]}: {result["message"]}')
    return {'converged': EXIT_CONVERGED, 'not_converged': EXIT_NOT_CONVERGED, 'stalled': EXIT_NOT_CONVERGED,
            'diverged': EXIT_DIVERGED,
            'engine_failure': EXIT_ENGINE}[result['status']]


if __name__ == '__main__':
    sys.exit(main())
