"""The check the GraphQL run adds to schemathesis's own: no request ends in an internal error.

GraphQL reports a resolver's failure in `errors`, with HTTP 200, so a status check alone
cannot see one. Every error this API reports carries `extensions.code`; `internal` is the
one that means the server failed rather than the request. Any 5xx fails too.
"""

import schemathesis


@schemathesis.check
def no_internal_error(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        payload = response.json()
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:500]}")
    errors = payload.get("errors") if isinstance(payload, dict) else None
    for error in errors or []:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "internal":
            raise AssertionError(f"internal error: {error.get('message')}")
        if "code" not in extensions and "path" in error:
            raise AssertionError(f"a resolver error without a code: {error.get('message')}")
    return None
