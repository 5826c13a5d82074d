import string

from hypothesis import given
from hypothesis import strategies as st

from tenants import tokens
from tenants.services import token_create


def test_generated_tokens_have_prefix_base62_body_and_valid_checksum():
    raw = tokens.generate()
    assert raw.startswith("rpt_")
    assert len(raw) == tokens.TOKEN_LENGTH == 42
    assert set(raw[4:]) <= set(string.ascii_letters + string.digits)
    assert tokens.is_well_formed(raw)


def test_tokens_are_unique_and_carry_at_least_160_bits():
    generated = [tokens.generate() for _ in range(1000)]
    assert len(set(generated)) == 1000
    import math

    # The entropy of what generate() really draws: its bodies' length and alphabet.
    bodies = [raw[4 : -tokens.CHECKSUM_LENGTH] for raw in generated]
    alphabet = {c for body in bodies for c in body}
    assert len(alphabet) == 62
    assert min(len(body) for body in bodies) * math.log2(len(alphabet)) >= 160


def test_a_changed_character_fails_the_checksum():
    raw = tokens.generate()
    for i in range(4, len(raw)):
        other = "A" if raw[i] != "A" else "B"
        assert not tokens.is_well_formed(raw[:i] + other + raw[i + 1 :])


def test_a_token_with_anything_after_it_is_malformed():
    raw = tokens.generate()
    assert not tokens.is_well_formed(raw + "\n")
    assert not tokens.is_well_formed(raw + " ")


@given(st.text(max_size=60))
def test_random_strings_are_not_tokens(text):
    # A random string passes the 6-character checksum with odds of 1 in 4 billion.
    assert not tokens.is_well_formed("rpt_" + text) or len(text) == 38


base62 = st.text(alphabet=string.ascii_letters + string.digits, min_size=32, max_size=32)


@given(
    body=base62,
    check=st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=6),
)
def test_a_token_of_the_right_shape_is_well_formed_exactly_when_its_checksum_matches(body, check):
    assert tokens.is_well_formed(f"rpt_{body}{check}") == (tokens.checksum(body) == check)
    assert tokens.is_well_formed(f"rpt_{body}{tokens.checksum(body)}")


def test_only_the_hash_and_a_visible_prefix_are_kept(db, tenant):

    token, raw = token_create(tenant=tenant, name="Looker", scopes=["sessions:read"])
    token.refresh_from_db()
    stored = [str(getattr(token, f.attname)) for f in token._meta.concrete_fields]
    assert raw not in stored
    assert token.token_hash == tokens.hash_token(raw)
    assert raw.startswith(token.prefix) and raw.endswith(token.last_four)
