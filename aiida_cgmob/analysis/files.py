"""The file contract of ``cgmob-descriptors`` as the AiiDA jobs run it (``--settings SETTINGS_FILE --output STEM``).

Defined once here, apart from the script and the kernel that writes the files, so both (and the AiiDA layer)
import it without importing each other.
"""

from __future__ import annotations

__all__ = ['ERROR_FILE', 'LOG_FILE', 'OUTPUT_FILES', 'RESULT_FILES', 'SETTINGS_FILE', 'STEM']

STEM = 'descriptors'
SETTINGS_FILE = f'{STEM}_settings.json'
RESULT_FILES = (f'{STEM}.npz', f'{STEM}.json')
ERROR_FILE = f'{STEM}_error.json'
LOG_FILE = f'{STEM}.log'  # the script's stdout and stderr, captured by the job
OUTPUT_FILES = (*RESULT_FILES, ERROR_FILE, LOG_FILE)
