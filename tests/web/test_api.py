"""The REST API: every endpoint refuses missing, forged, expired, wrong-audience, wrong-issuer and
unknown-key tokens (401, audited), refuses a valid token without the role (403, audited by the
service) and answers the right role (200); the OpenAPI document validates and every route in it
answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from capstone.audit.log import AuditLog
from capstone.services import state_engine
from capstone.web.context import WebContext
from capstone.web.jobs import Job
from tests.web.conftest import CASE, WebWorld

# (method, path, a demo user holding the role, the service action a refusal is audited under)
ENDPOINTS = [
    ("GET", "/api/v1/registry/designations", "beheerder", "registry-list"),
    ("GET", "/api/v1/capture/status", "archivaris", "capture-status"),
    ("GET", "/api/v1/woo/cases", "woo", "case-list"),
    ("GET", f"/api/v1/woo/cases/{CASE}", "woo", "case-show"),
    ("GET", f"/api/v1/woo/cases/{CASE}/search?q=begroting", "woo", "search"),
    ("GET", f"/api/v1/woo/cases/{CASE}/documents/{{doc}}", "woo", "view"),
    ("GET", "/api/v1/audit/entries", "auditor", "audit-show"),
    ("POST", "/api/v1/audit/verify", "auditor", "audit-verify"),
    ("GET", "/api/v1/retention/status", "archivaris", "retention-status"),
    ("GET", "/api/v1/retention/exclusions", "auditor", "exclusion-list"),
    ("GET", "/api/v1/retention/holds", "woo", "hold-list"),
    ("GET", "/api/v1/retention/own-items", "burgemeester", "exclusion-own-items"),
    ("GET", "/api/v1/retention/destruction-lists", "auditor", "retention-lists"),
    ("GET", f"/api/v1/woo/cases/{CASE}/assessments", "woo", "assessments-show"),
    ("GET", f"/api/v1/woo/cases/{CASE}/documents/{{doc}}/assessments", "woo", "assessments-history"),
    ("GET", f"/api/v1/woo/cases/{CASE}/documents/{{doc}}/redactions", "woo", "redactions-show"),
    ("GET", f"/api/v1/woo/cases/{CASE}/review", "woo", "review-state"),
]
# Routes that change something (tests/web/test_retention.py drives them): here a valid request by a
# user without the role is refused (403) and the refusal audited under the service's action.
CHANGES = {
    "/api/v1/retention/run": ({}, "retention-run"),
    "/api/v1/retention/exclusions": (
        {"scope": "item", "value": "x", "category": "prive", "reason": "r"},
        "exclusion-mark",
    ),
    "/api/v1/retention/exclusions/{exclusion_id}/confirm": ({}, "exclusion-confirm"),
    "/api/v1/retention/exclusions/{exclusion_id}/refuse": ({}, "exclusion-refuse"),
    "/api/v1/retention/holds": (
        {"ref": CASE, "kind": "woo-case", "reason": "r", "scope": "item", "value": "x"},
        "hold-place",
    ),
    "/api/v1/retention/holds/{hold_id}/release": ({"reason": "r"}, "hold-release"),
    "/api/v1/retention/destruction-lists": ({}, "retention-propose"),
    "/api/v1/retention/destruction-lists/{list_id}/approve": ({"decision_ref": "B-1"}, "retention-approve"),
    "/api/v1/retention/destruction-lists/{list_id}/destroy": ({}, "retention-destroy"),
    "/api/v1/woo/cases/{ref}/assessments": ({"doc_ids": ["1"], "judgement": "openbaar"}, "assess"),
    "/api/v1/woo/cases/{ref}/documents/{doc_id}/redactions": ([{"ground": "5.1.2e", "text": "x"}], "redact"),
    "/api/v1/woo/cases/{ref}/documents/{doc_id}/suggestions": ({}, "suggest"),
    "/api/v1/woo/cases/{ref}/redactions/{mark_id}": ({"decision": "accept"}, "redaction-decide"),
    "/api/v1/woo/cases/{ref}/review/require-approval": ({}, "review-rule"),
    "/api/v1/woo/cases/{ref}/review/approve": ({"note": ""}, "approve"),
    "/api/v1/woo/cases/{ref}/publish": ({"out": "pakket"}, "publish"),
    "/api/v1/woo/cases/{ref}/exports": ({}, "export"),
}
BAD_TOKENS = ["expired", "audience", "issuer", "unknown_key", "not_yet_valid"]
FORGED = ["tampered", "none", "hs256"]


def _context(world: WebWorld) -> WebContext:
    ctx = world.client.app.state.capstone  # type: ignore[attr-defined]
    assert isinstance(ctx, WebContext)
    return ctx


def _last_entries(world: WebWorld, n: int = 1) -> list[Any]:
    return list(AuditLog(state_engine(world.settings)).entries())[-n:]


@pytest.fixture(scope="module")
def doc_id(web_world: WebWorld) -> str:
    found = web_world.client.get(
        f"/api/v1/woo/cases/{CASE}/search",
        params={"q": "begroting"},
        headers=web_world.auth(web_world.token("woo")),
    )
    assert found.status_code == 200, found.text
    assert found.json()["total"] > 0
    return str(found.json()["hits"][0]["doc_id"])


def _wait_for(world: WebWorld, job_id: str, headers: dict[str, str], seconds: float = 240) -> dict[str, Any]:
    """Poll ``/api/v1/jobs/{job_id}`` until the job is no longer running; its last state."""
    deadline = time.monotonic() + seconds
    while (polled := world.client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()[
        "status"
    ] == "running":
        assert time.monotonic() < deadline, polled.text
        time.sleep(0.2)
    assert polled.status_code == 200, polled.text
    state: dict[str, Any] = polled.json()
    return state


def _call(world: WebWorld, method: str, path: str, doc: str, token: str | None) -> Any:
    headers = world.auth(token) if token is not None else {}
    return world.client.request(method, path.replace("{doc}", doc), headers=headers)


@pytest.mark.parametrize(("method", "path", "user", "action"), ENDPOINTS)
def test_every_endpoint_refuses_bad_tokens_and_wrong_roles(
    web_world: WebWorld, doc_id: str, method: str, path: str, user: str, action: str
) -> None:
    attempts: list[tuple[str, str | None]] = [("no token", None)]
    attempts += [(f, web_world.token(user, f)) for f in BAD_TOKENS]
    attempts += [(f"forged {f}", web_world.forged(user, f)) for f in FORGED]
    attempts += [("not a jwt", "abc.def")]
    for what, token in attempts:
        response = _call(web_world, method, path, doc_id, token)
        assert response.status_code == 401, (what, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401 and response.headers["www-authenticate"].startswith("Bearer")
        [entry] = _last_entries(web_world)
        assert (entry.actor, entry.action, entry.outcome) == ("anoniem", "api-authenticate", "refused"), what
        assert entry.detail["path"] == path.split("?")[0].replace("{doc}", doc_id)

    refused = _call(web_world, method, path, doc_id, web_world.token("medewerker"))  # valid, no role
    assert refused.status_code == 403, refused.text
    assert refused.json()["title"] == "Geen toegang"
    [entry] = _last_entries(web_world)
    assert (entry.actor, entry.action, entry.outcome) == (web_world.upn("medewerker"), action, "refused")

    allowed = _call(web_world, method, path, doc_id, web_world.token(user))
    assert allowed.status_code == 200, allowed.text


def test_a_refused_forged_token_grants_nothing_even_with_every_role_claimed(web_world: WebWorld) -> None:
    for how in FORGED:
        response = web_world.client.get(
            "/api/v1/me", headers=web_world.auth(web_world.forged("medewerker", how))
        )
        assert response.status_code == 401
    me = web_world.client.get("/api/v1/me", headers=web_world.auth(web_world.token("medewerker")))
    assert me.status_code == 200 and me.json()["roles"] == []
    assert me.json()["username"] == web_world.upn("medewerker")


def test_roles_from_mapped_groups(web_world: WebWorld) -> None:
    from capstone.web.identity import principal_from_claims
    from connectors.simulator.oidc import GROUP_IDS

    claims = {
        "oid": "x",
        "preferred_username": "p@x",
        "groups": [GROUP_IDS["auditor"], "other"],
        "roles": ["bogus"],
    }
    principal = principal_from_claims(claims, {GROUP_IDS["auditor"]: "auditor"})
    assert principal.roles == frozenset({"auditor"})  # unknown app roles are dropped


def test_jwks_is_fetched_again_for_an_unknown_key(web_world: WebWorld) -> None:
    oidc = web_world.sim.sim.oidc
    old_key = oidc.key
    try:
        oidc.key = oidc.stray_key  # the provider rotates its signing key
        rotated = web_world.token("auditor")
        response = web_world.client.get("/api/v1/me", headers=web_world.auth(rotated))
        assert response.status_code == 200, response.text
    finally:
        oidc.key = old_key
    assert (
        web_world.client.get("/api/v1/me", headers=web_world.auth(web_world.token("auditor"))).status_code
        == 200
    )


def test_openapi_document_is_valid_and_every_route_answers(web_world: WebWorld, doc_id: str) -> None:
    document = web_world.client.get("/api/v1/openapi.json").json()
    validate(document)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "Problem" in document["components"]["schemas"]
    paths = set(document["paths"])
    assert {p.split("?")[0].replace(CASE, "{ref}").replace("{doc}", "{doc_id}") for _, p, _, _ in ENDPOINTS} | {
        "/api/v1/me", "/api/v1/registry/public"
    } | set(CHANGES) | {"/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/download"} == paths  # fmt: skip
    tokens = {e[1].split("?")[0].replace(CASE, "{ref}").replace("{doc}", "{doc_id}"): e[2] for e in ENDPOINTS}
    for path, operations in document["paths"].items():
        for method in operations:
            concrete = path.replace("{ref}", CASE).replace("{doc_id}", doc_id)
            if method == "post" and path in CHANGES:
                body, action = CHANGES[path]
                concrete = (
                    concrete.replace("{exclusion_id}", "e")
                    .replace("{hold_id}", "h")
                    .replace("{list_id}", "l")
                    .replace("{mark_id}", "m")
                )
                response = web_world.client.post(
                    concrete, json=body, headers=web_world.auth(web_world.token("medewerker"))
                )
                assert response.status_code == 403, (method, path, response.text)
                [entry] = _last_entries(web_world)
                assert (entry.action, entry.outcome) == (action, "refused"), path
                continue
            user = tokens.get(path, "medewerker")
            if "{job_id}" in path:  # a job of the caller's own (any signed-in user may poll theirs)
                made = web_world.settings.home / "job-made.zip"
                made.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: what the job made

                def work(job: Job, made: Path = made) -> None:
                    job.download = made

                job = _context(web_world).jobs.start(web_world.upn(user), "vault-verify", "Taak", work)
                _wait_for(web_world, job.job_id, web_world.auth(web_world.token(user)))
                concrete = concrete.replace("{job_id}", job.job_id)
            response = web_world.client.request(
                method.upper(), concrete, headers=web_world.auth(web_world.token(user))
            )
            assert response.status_code == 200, (method, path, response.text)


def test_public_register_needs_no_sign_in_and_shows_no_addresses(web_world: WebWorld) -> None:
    response = web_world.client.get("/api/v1/registry/public")
    assert response.status_code == 200
    entries = response.json()
    assert len(entries) == 6 and all("addresses" not in e for e in entries)
    assert "@" not in response.text


def test_security_headers_on_every_response(web_world: WebWorld) -> None:
    for path in ("/", "/api/v1/me", "/api/v1/openapi.json", "/openbaar/register", "/static/capstone.css"):
        headers = web_world.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # plain http here; HSTS only over TLS


def test_hsts_over_tls(web_world: WebWorld) -> None:
    response = web_world.client.get("https://127.0.0.1/openbaar/register")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_an_oversized_body_without_length_is_cut_off(web_world: WebWorld) -> None:
    limit = web_world.web.max_upload_bytes * 2 + 64 * 1024

    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="bestand"; filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = web_world.client.post(  # a form that is parsed before anything else looks at it
        "/register/import", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413


def test_suggestions_route_proposes_marks_once(web_world: WebWorld, doc_id: str) -> None:
    path = f"/api/v1/woo/cases/{CASE}/documents/{doc_id}/suggestions"
    headers = web_world.auth(web_world.token("woo"))
    first = web_world.client.post(path, headers=headers)
    assert first.status_code == 200, first.text
    assert any(m["origin"] == "suggestion:email" and m["status"] == "proposed" for m in first.json())
    assert all(m["origin"].startswith("suggestion:") or m["origin"] == "officer" for m in first.json())
    again = web_world.client.post(path, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    [entry] = _last_entries(web_world)
    assert (entry.action, entry.outcome, entry.detail["marks"]) == ("suggest", "allowed", [])


# -- the OpenAPI document describes what the API really answers -------------------------------------------

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def _typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A named model with properties, or an array of them: not ``{}``, not a bare ``object``."""
    if schema.get("type") == "array":
        return _typed(document, schema.get("items", {}))
    resolved = _resolve(document, schema)
    return "$ref" in schema and bool(resolved.get("properties"))


def test_every_operation_declares_a_typed_answer_and_the_problems_it_answers(web_world: WebWorld) -> None:
    document = web_world.client.get("/api/v1/openapi.json").json()
    assert set(document["components"]["schemas"]) >= {"Problem"}
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            [ok] = [code for code in responses if code.startswith("2")]
            content = responses[ok].get("content", {})
            if path.endswith("/download"):  # a file: its media type, as bytes
                assert content == {"application/zip": {"schema": {"type": "string", "format": "binary"}}}, (
                    where
                )
            else:
                assert set(content) == {"application/json"}, where
                assert _typed(document, content["application/json"]["schema"]), where
            body = operation.get("requestBody")
            if body is not None:
                [schema] = [c["schema"] for c in body["content"].values()]
                schema = schema.get("anyOf", [schema])[0]  # an optional body: the model or null
                assert _typed(document, schema), where
            expected = set()
            if operation.get("security"):
                assert operation["security"] == [{"HTTPBearer": []}], where
                expected |= {"401", "403", "503"}
            if any(p["in"] == "query" for p in operation.get("parameters", [])) or body is not None:
                expected.add("400")  # a query parameter or body that fails validation
            if body is not None:
                expected.add("413")
            if "{" in path:
                expected.add("404")
            errors = {code for code in responses if code[0] in "45"}
            assert expected <= errors, (where, expected - errors)
            assert "422" not in responses, where  # a failed validation is answered 400 (a problem)
            for code in errors:
                assert responses[code]["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                    where,
                    code,
                )


def _schema_of(document: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][status]
    [media] = response["content"].values()
    return {**media["schema"], "components": document["components"]}


def test_real_answers_match_their_schemas(web_world: WebWorld, doc_id: str) -> None:
    from jsonschema import Draft202012Validator

    document = web_world.client.get("/api/v1/openapi.json").json()
    checked = 0
    for method, concrete, user, _ in ENDPOINTS:
        path = concrete.split("?")[0].replace(CASE, "{ref}").replace("{doc}", "{doc_id}")
        response = _call(web_world, method, concrete, doc_id, web_world.token(user))
        assert response.status_code == 200, (concrete, response.text)
        schema = _schema_of(document, path, method.lower(), "200")
        errors = list(Draft202012Validator(schema).iter_errors(response.json()))
        assert not errors, (concrete, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]])
        checked += 1
        refused = _call(web_world, method, concrete, doc_id, web_world.token("medewerker"))
        assert refused.status_code == 403
        Draft202012Validator(_schema_of(document, path, method.lower(), "403")).validate(refused.json())
    public = web_world.client.get("/api/v1/registry/public")
    Draft202012Validator(_schema_of(document, "/api/v1/registry/public", "get", "200")).validate(
        public.json()
    )
    missing = web_world.client.get("/api/v1/woo/cases/NOPE-1", headers=web_world.auth(web_world.token("woo")))
    assert missing.status_code == 404
    Draft202012Validator(_schema_of(document, "/api/v1/woo/cases/{ref}", "get", "404")).validate(
        missing.json()
    )
    bad = web_world.client.get(
        f"/api/v1/woo/cases/{CASE}/search",
        params={"limit": "0"},
        headers=web_world.auth(web_world.token("woo")),
    )
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    Draft202012Validator(_schema_of(document, "/api/v1/woo/cases/{ref}/search", "get", "400")).validate(
        bad.json()
    )
    assert checked == len(ENDPOINTS)


def test_a_schema_that_leaves_out_a_key_fails_the_comparison(web_world: WebWorld) -> None:
    """The comparison above can fail: the models forbid keys they do not name."""
    from jsonschema import Draft202012Validator

    document = web_world.client.get("/api/v1/openapi.json").json()
    schema = _schema_of(document, "/api/v1/woo/cases/{ref}", "get", "200")
    case = web_world.client.get(
        f"/api/v1/woo/cases/{CASE}", headers=web_world.auth(web_world.token("woo"))
    ).json()
    assert not list(Draft202012Validator(schema).iter_errors(case))
    assert list(Draft202012Validator(schema).iter_errors(case | {"unexpected": 1}))


def test_publish_starts_a_job_that_only_its_owner_polls(web_world: WebWorld, doc_id: str) -> None:
    """The API's publication is a background job (202 and a Location), polled at ``/api/v1/jobs/{id}``
    as the job page polls it: the owner sees progress and the report; anyone else gets 404, audited."""
    from jsonschema import Draft202012Validator

    woo = web_world.auth(web_world.token("woo"))
    assessed = web_world.client.post(
        f"/api/v1/woo/cases/{CASE}/assessments",
        json={"doc_ids": [doc_id], "judgement": "openbaar"},
        headers=woo,
    )
    assert assessed.status_code == 200, assessed.text
    started = web_world.client.post(
        f"/api/v1/woo/cases/{CASE}/publish", json={"out": "api-pakket"}, headers=woo
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert location == f"/api/v1/jobs/{started.json()['job_id']}" and started.json()["kind"] == "publish"
    deadline = time.monotonic() + 240
    while (polled := web_world.client.get(location, headers=woo)).json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert polled.status_code == 200 and polled.json()["status"] == "done", polled.text
    assert polled.json()["result"]["documents"] >= 1 and polled.json()["percent"] == 100
    document = web_world.client.get("/api/v1/openapi.json").json()
    Draft202012Validator(_schema_of(document, "/api/v1/jobs/{job_id}", "get", "200")).validate(polled.json())
    Draft202012Validator(_schema_of(document, "/api/v1/woo/cases/{ref}/publish", "post", "202")).validate(
        started.json()
    )

    other = web_world.client.get(location, headers=web_world.auth(web_world.token("auditor")))
    assert other.status_code == 404 and other.json()["code"] == "job-unknown"
    assert other.json()["type"] == "urn:capstone:problem:job-unknown"
    [entry] = _last_entries(web_world)
    assert (entry.actor, entry.action, entry.outcome) == (web_world.upn("auditor"), "job-show", "refused")
    assert web_world.client.get(location).status_code == 401
    again = web_world.client.post(
        f"/api/v1/woo/cases/{CASE}/publish", json={"out": "api-pakket"}, headers=woo
    )
    assert again.status_code == 409 and again.json()["status"] == 409  # not into a directory written before


def test_not_found_is_chosen_by_code_not_by_message(web_world: WebWorld) -> None:
    """A refusal whose English message starts "no ..." is not a 404 unless its code says so."""
    woo = web_world.auth(web_world.token("woo"))
    missing = web_world.client.get("/api/v1/woo/cases/NOPE-1", headers=woo)
    assert missing.status_code == 404 and missing.json()["code"] == "case-unknown"
    assert missing.json()["type"] == "urn:capstone:problem:case-unknown"
    hold = web_world.client.post(
        "/api/v1/retention/holds/no-such-hold/release", json={"reason": "r"},
        headers=web_world.auth(web_world.token("archivaris")),
    )  # fmt: skip
    assert hold.status_code == 404 and hold.json()["code"] == "hold-unknown"
    nothing = web_world.client.post(
        "/api/v1/retention/holds", json={"ref": CASE, "kind": "woo-case", "reason": "r", "scope": "item", "value": "x"},
        headers=woo,
    )  # fmt: skip
    assert nothing.status_code == 400 and nothing.json()["code"] == "no-content"  # "no archived content ..."
    judged = web_world.client.post(
        f"/api/v1/woo/cases/{CASE}/assessments", json={"doc_ids": ["1"], "judgement": "kwijt"}, headers=woo
    )
    assert (
        judged.status_code == 400 and judged.json()["code"] == "judgement-unknown"
    )  # "unknown judgement ..."


def test_an_export_through_the_api_is_a_job_whose_zip_only_its_owner_downloads(web_world: WebWorld) -> None:
    """``POST /api/v1/woo/cases/{ref}/exports`` starts the same export job as the export button:
    202 and a Location; the finished job is verified and its zip holds the originals, the manifest
    and the inventarislijst; nobody else can fetch it (404, audited)."""
    import io
    import zipfile

    woo = web_world.auth(web_world.token("woo"))
    started = web_world.client.post(f"/api/v1/woo/cases/{CASE}/exports", headers=woo)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    assert started.headers["location"] == f"/api/v1/jobs/{job_id}" and started.json()["kind"] == "export"
    done = _wait_for(web_world, job_id, woo)
    assert done["status"] == "done" and done["download"] is True, done
    assert (
        done["result"]["verified"] is True
        and done["result"]["documents"] > 0
        and not done["result"]["problems"]
    )
    download = web_world.client.get(f"/api/v1/jobs/{job_id}/download", headers=woo)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert any(n.endswith("manifest.json") for n in names) and any("inventarislijst" in n for n in names)
    exported = [e for e in _last_entries(web_world, 50) if e.action == "export" and e.outcome == "allowed"]
    assert exported and exported[-1].actor == web_world.upn("woo") and exported[-1].case_ref == CASE

    other = web_world.client.get(
        f"/api/v1/jobs/{job_id}/download", headers=web_world.auth(web_world.token("auditor"))
    )
    assert other.status_code == 404 and other.json()["code"] == "job-unknown"
    [entry] = _last_entries(web_world)
    assert (entry.actor, entry.action, entry.outcome) == (web_world.upn("auditor"), "job-show", "refused")
    missing = web_world.client.post("/api/v1/woo/cases/NOPE-1/exports", headers=woo)
    assert missing.status_code == 404 and missing.json()["code"] == "case-unknown"


def test_audit_entries_are_filtered_by_user_and_period_in_the_service(web_world: WebWorld) -> None:
    """The API and the audit page filter by case, user and period through the service, which audits
    the filter; a period that ends before it starts is refused."""
    from datetime import UTC, datetime

    auditor = web_world.auth(web_world.token("auditor"))
    web_world.client.get("/api/v1/woo/cases", headers=web_world.auth(web_world.token("woo")))  # one of woo's
    everything = web_world.client.get("/api/v1/audit/entries", headers=auditor).json()
    woo_user = web_world.upn("woo")
    mine = web_world.client.get("/api/v1/audit/entries", params={"user": woo_user}, headers=auditor)
    assert mine.status_code == 200 and mine.json()
    assert {e["actor"] for e in mine.json()} == {woo_user}
    assert [e["seq"] for e in mine.json()] == [e["seq"] for e in everything if e["actor"] == woo_user]
    [entry] = _last_entries(web_world)
    assert (entry.action, entry.detail["user"], entry.detail["entries"]) == (
        "audit-show",
        woo_user,
        len(mine.json()),
    )

    today = datetime.now(UTC).date().isoformat()
    todays = web_world.client.get(
        "/api/v1/audit/entries", params={"from": today, "to": today}, headers=auditor
    )
    assert todays.status_code == 200 and todays.json() and {e["at"][:10] for e in todays.json()} == {today}
    old = web_world.client.get(
        "/api/v1/audit/entries", params={"from": "2001-01-01", "to": "2001-12-31"}, headers=auditor
    )
    assert old.status_code == 200 and old.json() == []
    backwards = web_world.client.get(
        "/api/v1/audit/entries", params={"from": today, "to": "2001-01-01"}, headers=auditor
    )
    assert backwards.status_code == 400 and backwards.json()["code"] == "bad-period"
    assert (
        web_world.client.get(
            "/api/v1/audit/entries", params={"from": "gisteren"}, headers=auditor
        ).status_code
        == 400
    )
