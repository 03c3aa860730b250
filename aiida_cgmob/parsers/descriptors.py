"""Parser of ``cgmob.descriptors``: the script's arrays and scalars as nodes, its error report as an exit code."""

from __future__ import annotations

from aiida_cgmob.parsers.base import READ_ERRORS, CgmobParser, log_tail, read_descriptor_outcome

__all__ = ['DescriptorsParser']


class DescriptorsParser(CgmobParser):
    """Arrays and scalars of ``cgmob-descriptors`` as nodes; its error report as an exit code."""

    #: error kinds reported by the script -> exit code labels (anything else: ERROR_TRAJECTORY_UNUSABLE)
    ERROR_KINDS = {
        'missing_file': 'ERROR_INPUT_FILE_MISSING',
        'box_too_small': 'ERROR_BOX_TOO_SMALL',
        'no_diffusive_regime': 'ERROR_NO_DIFFUSIVE_REGIME',
        'too_short': 'ERROR_NO_DIFFUSIVE_REGIME',
    }

    def parse(self, **kwargs):
        """Attach the descriptors, or return the exit code of the script's error report."""
        try:
            nodes, error, log = read_descriptor_outcome(self.retrieved)
        except READ_ERRORS as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(message=repr(exception))
        if error is not None:
            label = self.ERROR_KINDS.get(error['kind'], 'ERROR_TRAJECTORY_UNUSABLE')
            return getattr(self.exit_codes, label).format(message=error['message'])
        if nodes is None:
            return self.exit_codes.ERROR_NO_OUTPUT.format(
                message=f'cgmob-descriptors wrote neither results nor an error report: {log_tail(log)}')
        for name, node in nodes.items():
            self.out(name, node)
        return None
