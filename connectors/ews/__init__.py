"""On-premises Exchange (2019, Subscription Edition) through Exchange Web Services, on exchangelib.

- :mod:`.config`: where and how to connect (explicit EWS URL or autodiscover; NTLM or Basic over TLS
  with an impersonating service account, or OAuth for hybrid modern auth); the secret is never
  logged or shown.
- :mod:`.connection`: one EWS endpoint and service account: exchangelib accounts per mailbox,
  ``EWSMaxConcurrency`` per mailbox, ``BackOffMilliseconds`` honoured for the whole budget, retries.
- :mod:`.errors`: exchangelib's exceptions mapped to the connector's own error types.
- :mod:`.mailbox`: the complete mailbox (``msgfolderroot`` with hidden folders, Recoverable Items,
  the online archive and its Recoverable Items): folders, ``SyncFolderItems`` page by page,
  ``SyncFolderHierarchy``, id listings, and streamed ``MimeContent`` with its SHA-256.
- :mod:`.mime`: GetItem whose ``MimeContent`` is decoded while the response streams in.
"""
