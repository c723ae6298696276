"""The retention lifecycle on the write-once vault (issue 21): provisional locks, accountable
exclusions (privé / partijpolitiek, four eyes), securing to the full term, holds, and destruction
of *V* records with a verklaring van vernietiging. See ``docs/retention.md``."""
