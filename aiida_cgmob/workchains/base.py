"""The base of every aiida-cgmob restart chain: one outline, one set of shared handlers, one ``defaults`` mapping.

A subclass names its CalcJob (``_process_class``), the namespace its inputs are exposed in (``_namespace``),
its protocol file (``_protocol_file``) and implements :meth:`~CgmobBaseRestartWorkChain.continue_from` (how a
job stopped at its wall time is continued).  The base handles, for every chain:

* a job stopped at its wall time, by the engine itself (400) or by the scheduler (aiida-core's 120): continue
  from the checkpoint, unless the last continuation made no progress (412);
* a finished run whose descriptors failed (350): attach its outputs and stop with its message;
* anything else: attach whatever the job made and stop with 300, carrying the job's message.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ExitCode, ProcessHandlerReport, process_handler, while_

from aiida_cgmob.exit_codes import EXIT_CODES, define_exit_codes
from aiida_cgmob.protocols import ProtocolMixin

__all__ = ['CgmobBaseRestartWorkChain', 'exit_code']


def exit_code(label: str) -> ExitCode:
    """Return the package's exit code ``label`` as an ExitCode (for ``process_handler(exit_codes=...)``)."""
    entry = EXIT_CODES[label]
    return ExitCode(entry.status, entry.message, entry.invalidates_cache)


#: aiida-core's code for a job the scheduler killed at its wall time
SCHEDULER_OUT_OF_WALLTIME = ExitCode(120)


class CgmobBaseRestartWorkChain(ProtocolMixin, BaseRestartWorkChain):
    """Restart chain around one aiida-cgmob CalcJob (see the module docstring)."""

    _process_class: type
    _namespace: str
    _expose_exclude: tuple[str, ...] = ()

    #: Tunables of the handlers, the one place they are set.  ``max_iterations``: the default number of jobs (a
    #: protocol sets its own); ``minimum_timestep`` (ps): below it the unstable-integration handler gives up;
    #: ``timestep_factor``: what that handler multiplies the time step by.
    defaults = AttributeDict({'max_iterations': 20, 'minimum_timestep': None, 'timestep_factor': 0.5})

    @classmethod
    def define(cls, spec) -> None:
        """Expose the CalcJob's inputs and outputs; the shared outline and exit codes."""
        super().define(spec)
        spec.expose_inputs(cls._process_class, namespace=cls._namespace, exclude=cls._expose_exclude)
        spec.expose_outputs(cls._process_class)
        spec.inputs['max_iterations'].default = lambda: orm.Int(cls.defaults.max_iterations)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(
                cls.run_process,
                cls.inspect_process,
            ),
            cls.results,
        )
        define_exit_codes(spec, 'ERROR_UNRECOVERABLE_FAILURE', 'ERROR_DESCRIPTORS', 'ERROR_NO_PROGRESS')
        if cls.defaults.minimum_timestep is not None:  # a chain that can shorten the time step
            define_exit_codes(spec, 'ERROR_TIME_STEP_TOO_SMALL')

    @classmethod
    def protocol_builder(cls, protocol: str | None, overrides: Mapping | None, options: Mapping | None,
                         inputs: Mapping, descriptors_code: orm.AbstractCode | None = None):
        """Return the builder of ``protocol`` with ``overrides``, the chain's ``inputs`` and job ``options`` over it.

        ``inputs`` are the values the caller fixed (codes, structures, physics), in the CalcJob's namespace;
        ``options`` are merged over ``metadata.options``.  The protocol's descriptor settings are dropped when no
        ``descriptors_code`` is given; descriptor settings given in ``overrides`` then raise ValueError.
        """
        protocol_inputs = cls.get_protocol_inputs(protocol, overrides)
        namespace = protocol_inputs.setdefault(cls._namespace, {})
        if descriptors_code is not None:
            namespace.setdefault('descriptors', {})['code'] = descriptors_code
        elif 'descriptors' in namespace:
            if (overrides or {}).get(cls._namespace, {}).get('descriptors'):
                raise ValueError(f'overrides: {cls._namespace}.descriptors were given without a descriptors code '
                                 'to run them')
            del namespace['descriptors']
        namespace.update(inputs)
        job_options = namespace.setdefault('metadata', {}).setdefault('options', {})
        job_options.update(options or {})
        return cls.builder_from_inputs(protocol_inputs)

    def setup(self) -> None:
        """Take the inputs of the next job from the exposed namespace."""
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(self._process_class, self._namespace))
        self.ctx.last_progress = None

    def report_error_handled(self, calculation: orm.CalcJobNode, action: str) -> None:
        """Report the failure of ``calculation`` and the ``action`` taken."""
        self.report(f'{calculation.process_label}<{calculation.pk}> failed with exit status '
                    f'{calculation.exit_status}: {calculation.exit_message}')
        self.report(f'Action taken: {action}')

    def stop_keeping_outputs(self, calculation: orm.CalcJobNode, action: str,
                             label: str | None = None) -> ProcessHandlerReport:
        """Attach what ``calculation`` made and stop with its own exit code and message (or the chain's ``label``).

        The job's message is passed on as it is: it already says what failed, once.
        """
        self.out_many(self.exposed_outputs(calculation, self._process_class))
        self.report_error_handled(calculation, action)
        if label is None:
            return ProcessHandlerReport(True, ExitCode(calculation.exit_status, calculation.exit_message))
        return ProcessHandlerReport(True, getattr(self.exit_codes, label).format(
            message=f'{calculation.process_label}<{calculation.pk}> exit {calculation.exit_status}: '
                    f'{calculation.exit_message}'))

    def reduced_time_step(self, calculation: orm.CalcJobNode,
                          timestep: float) -> tuple[float, ProcessHandlerReport | None]:
        """Return ``timestep`` (ps) times ``defaults.timestep_factor``, and a report that stops the chain.

        The report (411) is None when the smaller step is not below ``defaults.minimum_timestep``.
        """
        smaller = timestep * self.defaults.timestep_factor
        if smaller >= self.defaults.minimum_timestep:
            return smaller, None
        self.report_error_handled(calculation, 'none: the time step cannot be reduced further')
        return smaller, ProcessHandlerReport(True, self.exit_codes.ERROR_TIME_STEP_TOO_SMALL.format(
            message=f'dt = {smaller:g} ps is below {self.defaults.minimum_timestep:g} ps: the model or the start is '
                    'probably broken'))

    def results(self) -> ExitCode | None:
        """aiida-core's step, then every output of the last job registered with the chain, also those already linked.

        A daemon killed as the chain entered FINISHED (its outputs linked, its state not yet set) replays this step
        from the checkpoint before it.  aiida-core then skips the outputs it finds linked, so the replayed process
        never registers them and ends with 11 (ERROR_MISSING_OUTPUT) although they are there.  Emitting them again
        links nothing twice.
        """
        exit_code = super().results()
        if exit_code is None:
            self.out_many(self.exposed_outputs(self.ctx.children[self.ctx.iteration - 1], self._process_class))
        return exit_code

    # ------------------------------------------------------------------------------------------ what subclasses do
    def continue_from(self, calculation: orm.CalcJobNode) -> str:
        """Set ``self.ctx.inputs`` so the next job continues ``calculation``; return the action for the report."""
        raise NotImplementedError

    def progress(self, calculation: orm.CalcJobNode):
        """How far ``calculation`` got (comparable; None if unknown): a continuation must get further."""
        return None

    # ---------------------------------------------------------------------------------------------- shared handlers
    @process_handler(priority=500, exit_codes=[exit_code('ERROR_OUT_OF_WALLTIME'), SCHEDULER_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, calculation: orm.CalcJobNode) -> ProcessHandlerReport:
        """Continue from the checkpoint in the remote folder (also after the scheduler's own wall-time kill, 120)."""
        progress = self.progress(calculation)
        if progress is not None and progress == self.ctx.last_progress:
            self.report_error_handled(calculation, 'none: the continuation made no progress')
            return ProcessHandlerReport(True, self.exit_codes.ERROR_NO_PROGRESS.format(
                message=f'the job stopped again at {progress}: give it a longer wall time or less to do per job'))
        self.ctx.last_progress = progress
        if 'remote_folder' not in calculation.outputs:
            return self.stop_keeping_outputs(calculation, 'none: the job left no remote folder to continue from',
                                             'ERROR_UNRECOVERABLE_FAILURE')
        self.report_error_handled(calculation, self.continue_from(calculation))
        return ProcessHandlerReport(True)

    @process_handler(priority=400, exit_codes=[exit_code('ERROR_DESCRIPTORS')])
    def handle_descriptor_failure(self, calculation: orm.CalcJobNode) -> ProcessHandlerReport:
        """Keep the outputs of a good run whose descriptors failed and stop: rerunning would not change them."""
        remote = calculation.outputs.remote_folder.pk if 'remote_folder' in calculation.outputs else None
        return self.stop_keeping_outputs(
            calculation, f'none: outputs attached; compute the descriptors again with cgmob.descriptors on '
                         f'RemoteData<{remote}> and other settings')

    @process_handler(priority=0)
    def handle_unrecoverable_failure(self, calculation: orm.CalcJobNode) -> ProcessHandlerReport | None:
        """Catch-all: any other failure stops the chain cleanly, keeping what the job made, with its message."""
        if not calculation.is_failed:
            return None
        return self.stop_keeping_outputs(calculation, 'none: no handler can fix this failure, stopping',
                                         'ERROR_UNRECOVERABLE_FAILURE')
