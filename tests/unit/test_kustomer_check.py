"""`bridge kustomer check`'s findings, with a fake client (no HTTP)."""
from bridge.kustomer.check import check, region_of
from bridge.kustomer.errors import ConfigurationError
from bridge.mapping import KustomerTarget

ALL_ROLES = ["org.hooks", "org.permission.customer.read", "org.permission.customer.create",
             "org.permission.conversation.create", "org.permission.conversation.read",
             "org.permission.conversation.update", "org.permission.note.create"]
HOOK = ("reviews", "https://acme.api.kustomerapp.com/v1/hooks/web/abc123def456", ())


def clients(valid_at: dict[str, list[str]]):
    """make_client for check(): the key is valid at the bases in `valid_at`, with those roles."""
    class Client:
        def __init__(self, key, base):
            self.base = base

        def current_token(self):
            if self.base not in valid_at:
                raise ConfigurationError("401", status=401)
            return {"attributes": {"roles": valid_at[self.base]}}
    return Client


def failures(findings):
    return [f.message for f in findings if f.ok is False]


def test_a_good_key_with_every_role_passes():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    findings = check(target, [HOOK], True, clients({"https://acme.api.kustomerapp.com": ALL_ROLES}))
    assert failures(findings) == []


def test_a_key_from_another_region_is_found_and_the_fix_named():
    target = KustomerTarget(api_key="k", api_base="https://api.kustomerapp.com")
    findings = check(target, [HOOK], False, clients({"https://api.prod2.kustomerapp.com": ALL_ROLES}))
    [problem] = failures(findings)
    assert "works in the EU region" in problem


def test_missing_roles_are_named():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    findings = check(target, [HOOK], True, clients({"https://acme.api.kustomerapp.com": ["org.permission.note.create"]}))
    problems = " ".join(failures(findings))
    assert "lacks org.hooks" in problems and "org.permission.conversation.create" in problems


def test_hooks_in_another_region_than_the_base_fail():
    target = KustomerTarget(api_key="k", api_base="https://api.kustomerapp.com")
    hook = ("reviews", "https://api.prod2.kustomerapp.com/v1/hooks/web/abc", ())
    findings = check(target, [hook], False, clients({"https://api.kustomerapp.com": ALL_ROLES}))
    assert any("EU region but KUSTOMER_API_BASE is US" in p for p in failures(findings))


def test_something_that_is_not_a_hook_url_fails():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    hook = ("reviews", "https://acme.api.kustomerapp.com/v1/customers", ())
    findings = check(target, [hook], False, clients({"https://acme.api.kustomerapp.com": ALL_ROLES}))
    assert any("is not a Kustomer hook URL" in p for p in failures(findings))


def test_no_key_is_the_only_finding():
    assert failures(check(KustomerTarget(), [HOOK], False, clients({}))) == [
        failures(check(KustomerTarget(), [], False, clients({})))[0]]
    assert "KUSTOMER_API_KEY is not set" in failures(check(KustomerTarget(), [], False, clients({})))[0]


def test_regions():
    assert region_of("https://acme.api.kustomerapp.com") == "org"
    assert region_of("https://api.prod4.kustomerapp.com/v1") == "India"
    assert region_of("http://127.0.0.1:8099") is None


LEGACY_ROLES = ["org.hook", "org.user.customer.read", "org.user.customer.write", "org.user.conversation.read",
                "org.user.conversation.write", "org.user.note.write", "org.user.note.read"]


def test_an_old_key_with_the_legacy_role_names_passes():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    findings = check(target, [HOOK], True, clients({"https://acme.api.kustomerapp.com": LEGACY_ROLES}))
    assert failures(findings) == []
    assert any(f.ok and "every role tickets need" in f.message for f in findings)


def test_both_form_hook_url_shapes_are_accepted_and_need_no_hook_role():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    hooks = [("reviews", "https://acme.api.kustomerapp.com/v1/hooks/form/5f0e1a2b3c4d5e6f7a8b9c0d/abc123", ()),
             ("surveys", "https://acme.api.kustomerapp.com/v1/hooks/form/abc123", ())]
    roles = [r for r in ALL_ROLES if r != "org.hooks"]
    findings = check(target, hooks, True, clients({"https://acme.api.kustomerapp.com": roles}))
    assert failures(findings) == []
    bad = ("reviews", "https://acme.api.kustomerapp.com/v1/hooks/web/org/abc", ())
    assert any("is not a Kustomer hook URL" in p for p in failures(check(
        target, [bad], False, clients({"https://acme.api.kustomerapp.com": ALL_ROLES}))))


def test_a_key_that_cannot_read_notes_is_worth_a_note_not_a_failure():
    target = KustomerTarget(api_key="k", api_base="https://acme.api.kustomerapp.com")
    findings = check(target, [HOOK], True, clients({"https://acme.api.kustomerapp.com": ALL_ROLES}))
    assert failures(findings) == []
    assert any(f.ok is None and "org.permission.note.read" in f.message for f in findings)
