import pytest

from listings.tests.factories import ListingFactory


@pytest.mark.django_db
def test_browse_lists_an_active_listing(anon_client):
    listing = ListingFactory(title="Red kettle")
    response = anon_client.get("/")
    assert response.status_code == 200
    assert "Red kettle" in response.content.decode()
    assert listing.get_absolute_url() in response.content.decode()
