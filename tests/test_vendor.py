"""What every vendor shares: events regrouped into batches for the per-event lists."""

from pipelines.lists import EVENT_BATCH, in_batches


def test_sparse_pages_are_regrouped_into_batches_of_at_least_the_batch_size():
    pages = [[f"{page}-{i}" for i in range(7)] for page in range(30)]  # 7 kept of each page of 100
    batches = list(in_batches(pages, size=50))
    assert [item for batch in batches for item in batch] == [item for page in pages for item in page]
    assert all(len(batch) >= 50 for batch in batches[:-1])
    assert [len(batch) for batch in batches] == [56, 56, 56, 42]


def test_full_pages_pass_through_as_they_are_and_empty_ones_vanish():
    pages = [list(range(EVENT_BATCH)), [], list(range(EVENT_BATCH, EVENT_BATCH + 3)), []]
    assert list(in_batches(pages)) == [list(range(EVENT_BATCH)), list(range(EVENT_BATCH, EVENT_BATCH + 3))]
    assert list(in_batches([[], []])) == []
