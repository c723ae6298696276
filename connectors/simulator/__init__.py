"""A simulated Microsoft 365 / Exchange Online tenant for demos, tests and benchmarks.

It speaks the real protocols (OAuth2 client credentials, Microsoft Graph, EWS SOAP) on one local
HTTP server, so the unmodified client libraries (msgraph-sdk, exchangelib) and Capstone's own
connectors talk to it as to Microsoft. It lives apart from the production connectors and is never
imported by them. See ``README.md`` in this directory for what is simulated and what knowingly is
not, and :func:`connectors.simulator.server.run_simulator` to start one::

    with run_simulator(seed=7, profile="small") as sim:
        sim.graph_url, sim.token_url, sim.ews_url, sim.truth()
"""
