"""The exit codes of every aiida-cgmob process: one number, one label, one meaning across all jobs.

The numbering follows aiida-quantumespresso's scheme:

* 1xx: aiida-core's scheduler codes (e.g. 120, the scheduler killed the job at its wall time), declared by
  ``CalcJob`` itself; the restart chains treat 120 as they treat 400;
* 3xx: an output is missing or unreadable, or no handler can fix the failure; a calculation ending with one
  of these is never reused by caching (``invalidates_cache`` is derived from ``status < 400``);
* 4xx: a failure of the physics or of the run, which a restart handler may fix.  These are reused by caching
  (the same inputs fail the same way), except the ``transient`` ones that depend on the machine rather than on
  the inputs: a wall-time stop (400; ``max_wallclock_seconds`` is not part of a node's hash, so a rerun with a
  longer wall time would otherwise be handed the truncated job) and an engine error (430: a crashed node, a
  full disk).

aiida-core's ``BaseRestartWorkChain`` declares 301, 302, 401 and 402 itself (``RESERVED``); no code here
reuses them.  Every message has one ``{message}`` placeholder that the parser or the work chain fills in.
``docs/reference/exit_codes`` is generated from the process specs, which take their codes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ['EXIT_CODES', 'RESERVED', 'ExitCodeEntry', 'define_exit_codes']


@dataclass(frozen=True)
class ExitCodeEntry:
    """One exit code of the package: ``status``, ``label`` and the ``message`` template (``{message}``)."""

    status: int
    label: str
    message: str
    transient: bool = False

    @property
    def invalidates_cache(self) -> bool:
        """Never reuse by caching a job without usable output (< 400) or one stopped by the machine (transient)."""
        return self.status < 400 or self.transient


#: Declared by aiida-core's BaseRestartWorkChain; kept free in this package.
RESERVED = {
    301: 'ERROR_SUB_PROCESS_EXCEPTED',
    302: 'ERROR_SUB_PROCESS_KILLED',
    401: 'ERROR_MAXIMUM_ITERATIONS_EXCEEDED',
    402: 'ERROR_UNHANDLED_FAILURE',
}

_ENTRIES = (
    # 3xx: no usable output
    ExitCodeEntry(300, 'ERROR_UNRECOVERABLE_FAILURE',
                  'The calculation failed with an error no handler can fix: {message}'),
    ExitCodeEntry(310, 'ERROR_NO_OUTPUT', 'The job left none of its outputs: {message}'),
    ExitCodeEntry(311, 'ERROR_STAGE_NOT_REACHED', 'The job stopped before this stage ran: {message}'),
    ExitCodeEntry(312, 'ERROR_OUTPUT_MISSING', 'An output file of the job is missing: {message}'),
    ExitCodeEntry(313, 'ERROR_OUTPUT_UNREADABLE', 'An output file of the job could not be read: {message}'),
    ExitCodeEntry(314, 'ERROR_SCRIPT_CRASHED',
                  'The package script stopped with an uncaught error (a bug: please report it): {message}'),
    ExitCodeEntry(320, 'ERROR_INPUT_FILE_MISSING',
                  'A file the job reads is missing from the remote folder: {message}'),
    ExitCodeEntry(350, 'ERROR_DESCRIPTORS',
                  'The run finished (its outputs are attached) but its descriptors failed: {message}'),
    # 4xx: failures of the physics or of the run
    ExitCodeEntry(400, 'ERROR_OUT_OF_WALLTIME',
                  'The job stopped before the end (wall time or a kill): {message}. Continue from the checkpoint in '
                  'the remote folder.', transient=True),
    ExitCodeEntry(405, 'ERROR_NO_RESTART_FILE', 'The run to continue left no restart file: {message}'),
    ExitCodeEntry(410, 'ERROR_UNSTABLE_INTEGRATION', 'The integration became unstable: {message}'),
    ExitCodeEntry(411, 'ERROR_TIME_STEP_TOO_SMALL',
                  'Still unstable at the smallest time step allowed: {message}'),
    ExitCodeEntry(412, 'ERROR_NO_PROGRESS', 'The continued job made no progress: {message}'),
    ExitCodeEntry(420, 'ERROR_INPUT_REFUSED', 'The program refused its input: {message}'),
    ExitCodeEntry(430, 'ERROR_ENGINE', 'The MD engine stopped with an error: {message}', transient=True),
    ExitCodeEntry(440, 'ERROR_DIVERGED', 'The inversion diverged (best potential attached): {message}'),
    ExitCodeEntry(441, 'ERROR_NOT_CONVERGED', 'The inversion did not converge (best potential attached): {message}'),
    ExitCodeEntry(450, 'ERROR_BOX_TOO_SMALL', 'The box is too small for the analysis: {message}'),
    ExitCodeEntry(451, 'ERROR_NO_DIFFUSIVE_REGIME', 'The trajectory is too short for a diffusion fit: {message}'),
    ExitCodeEntry(452, 'ERROR_TRAJECTORY_UNUSABLE', 'The trajectory cannot be analysed: {message}'),
    # 46x-47x: the synthetic database (a sample names the step that failed and carries the child's message)
    ExitCodeEntry(460, 'ERROR_SAMPLE_SETUP', 'The sample could not build its liquid: {message}'),
    ExitCodeEntry(461, 'ERROR_SAMPLE_AA', 'The all-atom run of the sample failed: {message}'),
    ExitCodeEntry(462, 'ERROR_SAMPLE_IBI', 'The inversion of the sample gave no usable potential: {message}'),
    ExitCodeEntry(463, 'ERROR_SAMPLE_CG', 'No CG run of the sample gave a row: {message}'),
    ExitCodeEntry(470, 'ERROR_ALL_SAMPLES_FAILED', 'Every sample of the database build failed: {message}'),
)

#: label -> entry, in status order
EXIT_CODES: dict[str, ExitCodeEntry] = {entry.label: entry for entry in _ENTRIES}


def define_exit_codes(spec, *labels: str) -> None:
    """Declare the package's exit codes ``labels`` on a process ``spec`` (unknown labels raise KeyError)."""
    for label in labels:
        entry = EXIT_CODES[label]
        spec.exit_code(entry.status, entry.label, message=entry.message, invalidates_cache=entry.invalidates_cache)
