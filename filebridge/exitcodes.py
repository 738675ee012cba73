"""Exit codes of the command line (README.md, "Command line"). A module of their
own so the CLI can name them without importing the pipeline."""

OK, ROWS_REJECTED, USAGE, FILES_REJECTED, CONFIG_ERROR, LEDGER_ERROR = 0, 1, 2, 3, 4, 5
TRANSFER_FAILED = 6  # a server could not be reached or refused; files or changes left to retry
HELD = 7  # the circuit breaker held a run's shop changes: filebridge approve RUN
WAITING = 8  # a file waits for a code table or a member of its set (see status), or
             # another process works the profile (its lease: filebridge/ledger/leases.py)
DISK_FULL = 9  # a local disk had no room: the file stays in the inbox, redone later
