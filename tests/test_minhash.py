"""MinHash signatures and the LSH index: bit-compatible with datasketch, and finding near copies."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.state import open_state
from pipelines.dedup import NearDuplicateIndex, shingles, signature
from pipelines.minhash import LSHIndex, jaccard, minhash, optimal_bands

STORY = ("The city council approved the new budget on Tuesday after a long debate about school funding, road "
         "repairs and the cost of the harbour project, which has run two years late and far over its estimate. "
         "The mayor said the vote showed the council could still agree on hard things, while the opposition "
         "promised to bring the harbour contract back before the council in the spring.")


def datasketch_signature(tokens: list[bytes], num_perm: int = 128) -> MinHash:
    sketch = MinHash(num_perm=num_perm, seed=1, scheme="affine32")
    sketch.update_batch(tokens)
    return sketch


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=300), st.sampled_from([16, 128, 256]))
def test_signatures_are_datasketchs(tokens, num_perm):
    ours = minhash(tokens, num_perm)
    assert ours.dtype == np.uint32
    assert np.array_equal(ours, datasketch_signature(tokens, num_perm).hashvalues)


def test_jaccard_is_datasketchs():
    first, second = shingles(STORY, 3), shingles(STORY.replace("Tuesday", "Wednesday"), 3)
    expected = datasketch_signature(list(first)).jaccard(datasketch_signature(list(second)))
    assert jaccard(minhash(first), minhash(second)) == expected
    assert 0.7 < expected < 1.0


def test_jaccard_refuses_signatures_of_different_lengths():
    with pytest.raises(ValueError):
        jaccard(minhash([b"a"], 64), minhash([b"a"], 128))


@pytest.mark.parametrize("threshold", [0.5, 0.65, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_bands_are_chosen_as_datasketch_chooses_them(threshold, num_perm):
    assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_the_index_finds_a_near_copy_and_not_an_unrelated_text():
    index = LSHIndex(threshold=0.65, num_perm=128)
    index.insert("story.txt", signature(STORY, 128, 3))
    index.insert("other.txt", signature("A storm closed the coast road and cut power to the northern valleys "
                                        "for most of the weekend, the utility said on Sunday evening.", 128, 3))
    edited = STORY.replace("on Tuesday", "late on Tuesday")
    assert index.query(signature(edited, 128, 3)) == {"story.txt"}
    assert index.query(signature("Nothing like either of them: a recipe for plum cake with almonds.", 128, 3)) \
        == set()


def test_signatures_stored_by_datasketch_are_read_and_matched(tmp_path):
    """A topic's state written when signatures came from datasketch keeps finding copies of its files."""
    state = open_state(tmp_path / "state.sqlite")
    stored = datasketch_signature(list(shingles(STORY, 3)))
    state.add_signature("001_story.txt", "daily", np.asarray(stored.hashvalues, dtype=np.uint64).tobytes())
    index = NearDuplicateIndex(state, threshold=0.8, num_perm=128)
    found = index.original_of(signature(STORY.replace("Tuesday", "Tuesday evening"), 128, 3), 0.8)
    assert found is not None and found[0] == "001_story.txt" and found[1] >= 0.8


def test_a_signature_of_another_length_is_skipped_not_compared(tmp_path, caplog):
    state = open_state(tmp_path / "state.sqlite")
    state.add_signature("001_story.txt", "daily", minhash(shingles(STORY, 3), 64).astype(np.uint64).tobytes())
    index = NearDuplicateIndex(state, threshold=0.8, num_perm=128)
    assert index.original_of(signature(STORY, 128, 3), 0.8) is None
    assert "not compared" in caplog.text
