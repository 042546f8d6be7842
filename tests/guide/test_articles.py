"""Articles through the editorial workflow: drafts in two locales, review by another editor, publication with an
immutable revision, the public reading API with its locale fallback, stale versions (412), bad input (422)."""

import asyncio

import httpx
import pytest
from litestar import Litestar

from tests.guide.content_support import create, editor_headers, step, unique_slug

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def editors(app: Litestar, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    return await editor_headers(app, client), await editor_headers(app, client)


def article(slug: str) -> dict[str, object]:
    return {
        "slug": slug,
        "translations": {
            "vi": {"title": "Bản Cát Cát", "summary": "Một bản của phường Sa Pa.", "body": "Đoạn một.\n\nĐoạn hai."},
            "en": {"title": "Cát Cát village", "summary": "A village of Sa Pa ward.", "body": "One.\n\nTwo."},
        },
        "destinations": ["cat-cat"],
        "communes": ["03006"],
        "peoples": ["hmong"],
        "topics": ["culture"],
    }


async def test_draft_review_publish_and_read_in_every_locale(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]]
) -> None:
    author, reviewer = editors
    slug = unique_slug("cat-cat-story")
    created = await create(client, "article", author, article(slug))
    draft = created.json()
    assert (draft["status"], draft["version"]) == ("draft", 1)
    assert draft["completeness"]["vi"]["percent"] == 100
    assert draft["completeness"]["zh-Hans"] == {"present": [], "missing": ["title", "summary", "body"], "percent": 0}
    assert created.headers["cache-control"] == "no-store"
    assert (await client.get(f"/v1/articles/{slug}")).status_code == 404  # a draft is not public

    # publishing what was never submitted is refused; the author cannot publish their own work
    early = await step(client, "article", slug, "publish", reviewer, created.headers["etag"])
    assert early.status_code == 409
    assert early.json()["code"] == "workflow_conflict"
    submitted = await step(client, "article", slug, "submit", author, created.headers["etag"])
    assert submitted.status_code == 200, submitted.text
    own = await step(client, "article", slug, "publish", author, submitted.headers["etag"])
    assert own.status_code == 403
    assert own.json()["code"] == "reviewer_is_author"
    stale = await step(client, "article", slug, "publish", reviewer, created.headers["etag"])
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith(PROBLEM)
    published = await step(client, "article", slug, "publish", reviewer, submitted.headers["etag"])
    assert published.status_code == 200, published.text
    assert (published.json()["status"], published.json()["published_revision"]) == ("published", 1)

    for lang, title, title_locale in [("vi", "Bản Cát Cát", "vi"), ("en", "Cát Cát village", "en"),
                                      ("zh-Hans", "Cát Cát village", "en")]:  # fmt: skip
        response = await client.get(f"/v1/articles/{slug}", params={"lang": lang})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["title"], body["title_locale"], body["body_locale"]) == (title, title_locale, title_locale)
        assert body["destinations"][0]["slug"] == "cat-cat"
        assert body["locales"] == ["en", "vi"]
        assert response.headers["etag"].startswith('W/"')
    listed = await client.get("/v1/articles", params={"destination": "cat-cat", "people": "hmong", "limit": 100})
    assert slug in [item["slug"] for item in listed.json()["items"]]
    other = await client.get("/v1/articles", params={"people": "dao", "limit": 100})
    assert slug not in [item["slug"] for item in other.json()["items"]]

    history = (await client.get(f"/v1/editor/articles/{slug}/history", headers=author)).json()
    assert [e["action"] for e in history["events"]] == ["created", "submitted", "published"]
    assert len(history["revisions"]) == 1
    revision = history["revisions"][0]
    assert revision["author_id"] != revision["reviewer_id"]
    assert revision["author_id"] == history["events"][0]["actor_id"]
    assert revision["reviewer_id"] == history["events"][2]["actor_id"]

    # an edit of the published article starts a draft; the public keeps revision 1 until the next publish
    edited = await client.patch(
        f"/v1/editor/articles/{slug}",
        json={"translations": {"en": {"title": "Cát Cát, revised", "summary": "S", "body": "B"}}},
        headers={**author, "If-Match": published.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "draft"
    public = (await client.get(f"/v1/articles/{slug}", params={"lang": "en"})).json()
    assert (public["title"], public["revision"]) == ("Cát Cát village", 1)
    archived = await step(client, "article", slug, "archive", reviewer, edited.headers["etag"])
    assert archived.json()["status"] == "archived"
    assert (await client.get(f"/v1/articles/{slug}")).status_code == 404


async def test_concurrent_edits_of_one_version_one_wins(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]]
) -> None:
    first, second = editors
    created = await create(client, "article", first, article(unique_slug("race")))
    slug, etag = created.json()["slug"], created.headers["etag"]
    missing = await client.patch(f"/v1/editor/articles/{slug}", json={"topics": ["food"]}, headers=first)
    assert missing.status_code == 428

    async def edit(editor: dict[str, str], topic: str) -> httpx.Response:
        return await client.patch(
            f"/v1/editor/articles/{slug}", json={"topics": [topic]}, headers={**editor, "If-Match": etag}
        )

    answers = await asyncio.gather(edit(first, "food"), edit(second, "craft"))
    assert sorted(a.status_code for a in answers) == [200, 412]
    current = (await client.get(f"/v1/editor/articles/{slug}", headers=first)).json()
    winner = next(a for a in answers if a.status_code == 200).json()
    assert current["fields"]["topics"] == winner["fields"]["topics"]
    assert current["version"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"destinations": ["no-such-place"]}, "destinations"),
        ({"communes": ["99999"]}, "communes"),
        ({"peoples": ["martians"]}, "peoples"),
        ({"translations": {"xx": {"title": "t"}}}, "translations.xx"),
        ({"translations": {"vi": {"title": "  "}}}, "translations.vi.title"),
        ({"translations": {"vi": {"title": "a\u202eb"}}}, "translations.vi.title"),
        ({"media_ids": ["0" * 32]}, "media_ids"),
        ({"stops": []}, "stops"),
    ],
)
async def test_bad_fields_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]], change: dict[str, object], field: str
) -> None:
    author, _ = editors
    slug = unique_slug("bad")
    response = await client.post("/v1/editor/articles", json={**article(slug), **change}, headers=author)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(f"/v1/editor/articles/{slug}", headers=author)).status_code == 404
