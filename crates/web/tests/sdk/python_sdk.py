"""Drives Tidings with the official Intercom Python SDK (python-intercom 5.x).

Run by the API test suite with TIDINGS_BASE_URL and TIDINGS_TOKEN set; exits non-zero on the first
failed check. Each check calls the SDK exactly as an existing integration would, changing only the
base URL.
"""

import os
import sys

from intercom import (
    AdminReplyConversationRequest,
    ContactReplyIntercomUserIdRequest,
    CreateContactRequestWithEmail,
    CreateContactRequestWithExternalId,
    CreateMessageRequest_Email,
    CreateMessageRequest_Inapp,
    CreateMessageRequestFrom,
    CreateMessageRequestTo,
    CreateOrUpdateTagRequest,
    Intercom,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)
from intercom.conversations import (
    ConversationsManageRequestBody_Assignment,
    ConversationsManageRequestBody_Close,
    ConversationsManageRequestBody_Open,
    ConversationsManageRequestBody_Snoozed,
    CreateConversationRequestFrom,
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

# Messages and conversations.
sent = client.messages.create(
    request=CreateMessageRequest_Inapp(
        body="Hi {{first_name}}",
        from_=CreateMessageRequestFrom(type="admin", id=int(me.id)),
        to=CreateMessageRequestTo(type="user", id=ada.id),
        create_conversation_without_contact_reply=True,
    )
)
check(sent.type == "admin_message" and sent.message_type == "inapp" and sent.conversation_id, f"messages.create: {sent}")
opened = client.conversations.find(conversation_id=sent.conversation_id)
check(opened.source.delivered_as == "admin_initiated" and opened.source.body == "<p>Hi Ada</p>", f"the message opened a conversation: {opened.source}")
try:
    client.messages.create(
        request=CreateMessageRequest_Email(
            subject="Hi", body="Hello", template="plain",
            from_=CreateMessageRequestFrom(type="admin", id=int(me.id)), to=CreateMessageRequestTo(type="user", id=ada.id),
        )
    )
    check(False, "an email is refused while this server has no SMTP server")
except ApiError as e:
    check(e.status_code == 409 and "email_not_set_up" in str(e.body), f"email answers 409 email_not_set_up, got {e.status_code} {e.body}")

started = client.conversations.create(from_=CreateConversationRequestFrom(type="user", id=ada.id), body="Hello there")
check(started.type == "user_message" and started.conversation_id, f"conversations.create: {started}")
cid = started.conversation_id
conversation = client.conversations.find(conversation_id=cid)
check(conversation.source.delivered_as == "customer_initiated" and conversation.waiting_since, "conversations.find")
check(conversation.contacts.contacts[0].id == ada.id, "the conversation names its contact")
replied = client.conversations.reply(
    conversation_id=cid,
    request=AdminReplyConversationRequest(message_type="comment", type="admin", admin_id=me.id, body="How can we help?"),
)
parts = replied.conversation_parts.conversation_parts
check(parts[-1].body == "<p>How can we help?</p>" and parts[-1].author.type == "admin", "conversations.reply as a teammate")
check(replied.waiting_since is None, "a teammate's comment answers the contact")
closed = client.conversations.manage(conversation_id=cid, request=ConversationsManageRequestBody_Close(type="admin", admin_id=me.id, body="Bye"))
check(closed.state == "closed" and closed.open is False, "conversations.manage close")
reopened = client.conversations.reply(
    conversation_id=cid, request=ContactReplyIntercomUserIdRequest(body="Wait, one more thing", intercom_user_id=ada.id)
)
check(reopened.state == "open" and reopened.conversation_parts.conversation_parts[-1].part_type == "open", "a contact's reply reopens it")
snoozed = client.conversations.manage(conversation_id=cid, request=ConversationsManageRequestBody_Snoozed(admin_id=me.id, snoozed_until=4102444800))
check(snoozed.state == "snoozed" and snoozed.snoozed_until == 4102444800, "conversations.manage snooze")
reopened = client.conversations.manage(conversation_id=cid, request=ConversationsManageRequestBody_Open(admin_id=me.id))
check(reopened.state == "open" and reopened.snoozed_until is None, "conversations.manage open")
noted = client.conversations.reply(
    conversation_id=cid,
    request=AdminReplyConversationRequest(message_type="note", type="admin", admin_id=me.id, body="Looks like a **VIP**"),
)
check(noted.conversation_parts.conversation_parts[-1].part_type == "note", "conversations.reply with a note")

# Assignment: to a teammate, then to nobody ("0"); Tidings has no teams.
assigned = client.conversations.manage(
    conversation_id=cid,
    request=ConversationsManageRequestBody_Assignment(type="admin", admin_id=me.id, assignee_id=me.id, body="Mine"),
)
last = assigned.conversation_parts.conversation_parts[-1]
check(assigned.admin_assignee_id == int(me.id), f"conversations.manage assignment: {assigned.admin_assignee_id}")
check(last.part_type == "assignment" and last.assigned_to.id == me.id, f"the assignment part: {last}")
unassigned = client.conversations.manage(
    conversation_id=cid, request=ConversationsManageRequestBody_Assignment(type="admin", admin_id=me.id, assignee_id="0")
)
check(unassigned.admin_assignee_id is None, "assignee_id 0 unassigns")
try:
    client.conversations.manage(
        conversation_id=cid, request=ConversationsManageRequestBody_Assignment(type="team", admin_id=me.id, assignee_id="5")
    )
    check(False, "assigning to a team is refused")
except ApiError as e:
    check(e.status_code == 400 and e.body["errors"][0]["field"] == "type", f"a team assignment names type: {e.body}")

# Read marks and custom attributes.
updated = client.conversations.update(conversation_id=cid, read=True, custom_attributes={"issue": "billing", "score": 2})
check(updated.read is True and updated.custom_attributes == {"issue": "billing", "score": 2}, f"conversations.update: {updated.custom_attributes}")
updated = client.conversations.update(conversation_id=cid, custom_attributes={"score": 3})
check(updated.custom_attributes == {"issue": "billing", "score": 3}, "conversations.update merges attributes")

# Tags on the conversation.
billing = client.tags.create(request=CreateOrUpdateTagRequest(name="billing"))
tagged = client.tags.tag_conversation(conversation_id=cid, tag_id=billing.id, admin_id=me.id)
check(tagged.id == billing.id and tagged.name == "billing", f"tags.tag_conversation: {tagged}")
check([t.id for t in client.conversations.find(conversation_id=cid).tags.tags] == [billing.id], "the tag shows on the conversation")
untagged = client.tags.untag_conversation(conversation_id=cid, tag_id=billing.id, admin_id=me.id)
check(untagged.id == billing.id, f"tags.untag_conversation: {untagged}")
check(client.conversations.find(conversation_id=cid).tags.tags == [], "the tag is off the conversation")

# Search, paging by hand: the 5.0.1 search pager never sends the cursor (a known SDK bug).
query = SingleFilterSearchRequest(field="contact_ids", operator="=", value=ada.id)
seen = []
cursor = None
while True:
    page = client.conversations.search(query=query, pagination=StartingAfterPaging(per_page=1, starting_after=cursor))
    check(page.response.total_count == 2, f"conversations.search counts every match: {page.response.total_count}")
    seen.extend(c.id for c in page.items)
    nxt = page.response.pages.next if page.response.pages else None
    cursor = nxt.starting_after if nxt else None
    if not cursor:
        break
check(sorted(seen) == sorted([cid, sent.conversation_id]), f"conversations.search pages through every match: {seen}")
nested = MultipleFilterSearchRequest(
    operator="AND",
    value=[
        SingleFilterSearchRequest(field="source.body", operator="=", value="hello"),
        # The SDK sends value=True as 1.
        SingleFilterSearchRequest(field="read", operator="=", value=True),
    ],
)
check([c.id for c in client.conversations.search(query=nested).items] == [cid], "nested conversation search")
try:
    client.conversations.search(query=SingleFilterSearchRequest(field="priority", operator="=", value="x"))
    check(False, "an unknown search field is refused")
except ApiError as e:
    check(e.status_code == 400 and e.body["errors"][0]["field"] == "query.field", f"the bad field is named: {e.body}")
listed = list(client.conversations.list(per_page=1))
check(sorted(c.id for c in listed) == sorted([cid, sent.conversation_id]), f"conversations.list pager returns every conversation once: {[c.id for c in listed]}")
check(all(c.conversation_parts is None for c in listed), "list items carry no parts")
try:
    client.conversations.find(conversation_id="99999999")
    check(False, "an unknown conversation is not found")
except ApiError as e:
    check(e.status_code == 404, f"an unknown conversation answers 404, got {e.status_code}")

deleted = client.contacts.delete(contact_id=bob.id)
check(deleted.deleted, "contacts.delete")
try:
    client.contacts.find(contact_id=bob.id)
    check(False, "a deleted contact is not found")
except ApiError as e:
    check(e.status_code == 404, f"a deleted contact answers 404, got {e.status_code}")

print("all SDK checks passed")
