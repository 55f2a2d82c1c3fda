"""Drives Tidings with the official Intercom Python SDK (python-intercom 5.x).

Run by the API test suite with TIDINGS_BASE_URL and TIDINGS_TOKEN set; exits non-zero on the first
failed check. Each check calls the SDK exactly as an existing integration would, changing only the
base URL.
"""

import os
import sys

from intercom import (
    CreateContactRequestWithEmail,
    CreateContactRequestWithExternalId,
    CreateOrUpdateTagRequest,
    Intercom,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)
from intercom.core.api_error import ApiError

client = Intercom(token=os.environ["TIDINGS_TOKEN"], base_url=os.environ["TIDINGS_BASE_URL"])


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


me = client.admins.identify()
check(me is not None and me.app is not None and me.app.id_code, "admins.identify returns the admin with its app")
admins = client.admins.list()
check(len(admins.admins) == 1 and admins.admins[0].email == me.email, "admins.list lists the owner")
check(client.admins.find(admin_id=int(me.id)).email == me.email, "admins.find finds the owner")

client.data_attributes.create(request={"name": "plan", "model": "contact", "data_type": "string"})
attrs = client.data_attributes.list(model="contact")
check(any(a.name == "plan" and a.custom for a in attrs.data), "data_attributes.list includes the new attribute")

ada = client.contacts.create(request=CreateContactRequestWithEmail(email="ada@example.test", name="Ada"))
check(ada.email == "ada@example.test" and ada.role == "user", "contacts.create by email")
bob = client.contacts.create(request=CreateContactRequestWithExternalId(external_id="bob-1", name="Bob"))
check(bob.external_id == "bob-1", "contacts.create by external_id")
for i in range(5):
    client.contacts.create(request=CreateContactRequestWithEmail(email=f"user{i}@gmail.test"))

found = client.contacts.find(contact_id=ada.id)
check(found.id == ada.id and found.name == "Ada", "contacts.find")
updated = client.contacts.update(contact_id=ada.id, name="Ada L.", custom_attributes={"plan": "pro"})
check(updated.name == "Ada L." and updated.custom_attributes == {"plan": "pro"}, "contacts.update")
check(client.contacts.show_contact_by_external_id(external_id="bob-1").id == bob.id, "find by external_id")

# Search, paging by hand: the 5.0.1 search pager never sends the cursor (a known SDK bug).
query = SingleFilterSearchRequest(field="email", operator="~", value="gmail")
seen = []
cursor = None
while True:
    page = client.contacts.search(query=query, pagination=StartingAfterPaging(per_page=2, starting_after=cursor))
    seen.extend(c.email for c in page.items)
    nxt = page.response.pages.next if page.response.pages else None
    cursor = nxt.starting_after if nxt else None
    if not cursor:
        break
check(sorted(seen) == [f"user{i}@gmail.test" for i in range(5)], f"contacts.search pages through every match: {seen}")
nested = MultipleFilterSearchRequest(
    operator="AND",
    value=[
        SingleFilterSearchRequest(field="custom_attributes.plan", operator="=", value="pro"),
        SingleFilterSearchRequest(field="role", operator="=", value="user"),
    ],
)
pro = list(client.contacts.search(query=nested))
check([c.id for c in pro] == [ada.id], "nested search with a custom attribute")

# The list pager follows starting_after correctly.
listed = [c.id for c in client.contacts.list(per_page=3)]
check(len(listed) == 7 and len(set(listed)) == 7, f"contacts.list pager returns every contact once: {listed}")

tag = client.tags.create(request=CreateOrUpdateTagRequest(name="vip"))
client.tags.tag_contact(contact_id=bob.id, tag_id=tag.id)
check(any(t.name == "vip" for t in client.tags.list().data), "tags.list")
check(client.contacts.find(contact_id=bob.id).tags.data[0].id == tag.id, "the tag shows on the contact")
client.tags.untag_contact(contact_id=bob.id, tag_id=tag.id)

segments = client.segments.list(include_count=True)
counts = {s.name: s.count for s in segments.segments}
check(counts.get("All users") == 7, f"segments.list with counts: {counts}")

deleted = client.contacts.delete(contact_id=bob.id)
check(deleted.deleted, "contacts.delete")
try:
    client.contacts.find(contact_id=bob.id)
    check(False, "a deleted contact is not found")
except ApiError as e:
    check(e.status_code == 404, f"a deleted contact answers 404, got {e.status_code}")

print("all SDK checks passed")
