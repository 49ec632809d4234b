"""Stax API simulator: an HTTPS server faithful to the OpenAPI document bundled in staxapp.

Used by the local stack, the contract/e2e tests and the benchmarks; never deployed
(it is not part of the Lambda package). Laid out the way moto lays out a service:

* ``urls`` - which handler answers which path (API and ``/_sim``);
* ``server`` - TLS/HTTP transport, SigV4 checks, faults, dispatch, request log;
* ``responses`` - the API handlers (parameters, bodies, realism shaping);
* ``control_api`` - the server side of the ``/_sim`` control API;
* ``backend`` - ``SimState``: the per-resource backends behind one lock;
* ``models`` - tasks, workloads, catalogue, accounts, organisation, observers;
* ``events`` - write events and error bodies in the document's shapes;
* ``shaping`` - document-derived pruning of undefined properties and nulling;
* ``realism`` - strict/lenient settings, read-after-write lag, null share;
* ``exceptions``, ``queries`` (filter/sort/page), ``seeding`` (seed data);
* ``document`` - the SDK's bundled OpenAPI document as request/response validators;
* ``sigv4`` - SigV4 header checks (form only); ``faults`` - fault injection rules;
* ``control`` - a Python client of the control API; ``state`` - former import names;
* ``__main__`` - ``python -m staxsim serve``.
"""

__version__ = "0.2.0"
