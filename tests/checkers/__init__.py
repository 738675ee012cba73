"""Re-implementations of shops' own import logic, for tests to check the files filebridge writes
against what the shop would make of them (not against our reading of the format)."""
