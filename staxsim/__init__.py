"""Stax API simulator: an HTTPS server faithful to the OpenAPI document bundled in staxapp.

Used by the local stack, the contract/e2e tests and the benchmarks; never deployed
(it is not part of the Lambda package). Modules:

* ``document`` - the SDK's bundled OpenAPI document as request/response validators;
* ``state`` - the in-memory organisation, workloads and the lazy task state machine;
* ``sigv4`` - SigV4 header checks (form only; signatures cannot be verified here);
* ``faults`` - fault injection rules (status, latency, dropped responses);
* ``responses`` - response/error bodies in the document's shapes;
* ``server`` - routing, the HTTPS server and the ``/_sim`` control API;
* ``control`` - a Python client of the control API;
* ``__main__`` - ``python -m staxsim serve``.
"""

__version__ = "0.1.0"
