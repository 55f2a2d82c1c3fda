// Drives Tidings' conversations with the official Intercom Node SDK (npm `intercom-client` 7.0.3).
//
// Run by the API test suite with TIDINGS_BASE_URL and TIDINGS_TOKEN set, and NODE_PATH pointing
// at the node_modules that holds the SDK; exits non-zero on the first failed check. Each call is
// the SDK's own, as an existing integration makes it, with only the base URL changed.

"use strict";

const { IntercomClient, IntercomError } = require("intercom-client");

const client = new IntercomClient({ token: process.env.TIDINGS_TOKEN, baseUrl: process.env.TIDINGS_BASE_URL });

function check(cond, what) {
    if (!cond) {
        console.error(`FAILED: ${what}`);
        process.exit(1);
    }
}

async function refused(call, status, what) {
    try {
        await call();
    } catch (e) {
        check(e instanceof IntercomError && e.statusCode === status, `${what}: got ${e.statusCode} ${JSON.stringify(e.body)}`);
        return e.body;
    }
    check(false, `${what}: it was accepted`);
}

async function main() {
    const version = require("intercom-client/package.json").version;
    check(version.startsWith("7."), `intercom-client 7.x is installed, not ${version}`);
    const me = await client.admins.identify();
    check(me.id && me.app.id_code, "admins.identify");
    const ada = await client.contacts.create({ email: "ada@example.test", name: "Ada" });
    const bob = await client.contacts.create({ email: "bob@example.test", name: "Bob" });

    // Create and find.
    const started = await client.conversations.create({ from: { type: "user", id: ada.id }, body: "Hello, I need support" });
    check(started.type === "user_message" && started.conversation_id, `conversations.create: ${JSON.stringify(started)}`);
    const id = started.conversation_id;
    const found = await client.conversations.find({ conversation_id: id });
    check(found.source.delivered_as === "customer_initiated" && found.contacts.contacts[0].id === ada.id, "conversations.find");
    const other = await client.conversations.create({ from: { type: "user", id: bob.id }, body: "Anyone there?" });

    // Replies from both sides, and a note.
    let c = await client.conversations.reply({
        conversation_id: id,
        body: { message_type: "comment", type: "admin", admin_id: me.id, body: "How can we **help**?" },
    });
    let last = c.conversation_parts.conversation_parts.at(-1);
    check(last.body === "<p>How can we <strong>help</strong>?</p>" && c.waiting_since == null, "conversations.reply as a teammate");
    c = await client.conversations.reply({
        conversation_id: id,
        body: { message_type: "note", type: "admin", admin_id: me.id, body: "VIP" },
    });
    check(c.conversation_parts.conversation_parts.at(-1).part_type === "note", "conversations.reply with a note");
    c = await client.conversations.reply({
        conversation_id: id,
        body: { message_type: "comment", type: "user", intercom_user_id: ada.id, body: "Thanks!" },
    });
    check(c.waiting_since != null, "conversations.reply as the contact");

    // Close, snooze, open, assign.
    c = await client.conversations.manage({ conversation_id: id, body: { message_type: "close", type: "admin", admin_id: me.id, body: "Bye" } });
    check(c.state === "closed" && c.open === false, "conversations.manage close");
    c = await client.conversations.manage({ conversation_id: id, body: { message_type: "snoozed", admin_id: me.id, snoozed_until: 4102444800 } });
    check(c.state === "snoozed" && c.snoozed_until === 4102444800, "conversations.manage snooze");
    c = await client.conversations.manage({ conversation_id: id, body: { message_type: "open", admin_id: me.id } });
    check(c.state === "open" && c.snoozed_until == null, "conversations.manage open");
    c = await client.conversations.manage({
        conversation_id: id,
        body: { message_type: "assignment", type: "admin", admin_id: me.id, assignee_id: me.id },
    });
    last = c.conversation_parts.conversation_parts.at(-1);
    check(c.admin_assignee_id === Number(me.id) && last.part_type === "assignment", "conversations.manage assignment");
    check(last.assigned_to.id === me.id, `the assignment part names the assignee: ${JSON.stringify(last.assigned_to)}`);
    const team = await refused(
        () => client.conversations.manage({ conversation_id: id, body: { message_type: "assignment", type: "team", admin_id: me.id, assignee_id: "5" } }),
        400,
        "assigning to a team",
    );
    check(team.errors[0].field === "type", "a team assignment names type");

    // Read marks and custom attributes.
    c = await client.conversations.update({ conversation_id: id, read: true, custom_attributes: { issue_type: "Billing", priority: 2 } });
    check(c.read === true && c.custom_attributes.issue_type === "Billing" && c.custom_attributes.priority === 2, "conversations.update");

    // Tags.
    const tag = await client.tags.create({ name: "billing" });
    const tagged = await client.tags.tagConversation({ conversation_id: id, id: tag.id, admin_id: me.id });
    check(tagged.id === tag.id && tagged.name === "billing", "tags.tagConversation");
    c = await client.conversations.find({ conversation_id: id });
    check(c.tags.tags.length === 1 && c.tags.tags[0].id === tag.id, "the tag shows on the conversation");
    const untagged = await client.tags.untagConversation({ conversation_id: id, tag_id: tag.id, admin_id: me.id });
    check(untagged.id === tag.id, "tags.untagConversation");
    check((await client.conversations.find({ conversation_id: id })).tags.tags.length === 0, "the tag is off the conversation");

    // List and search, one a page: the SDK's pagers follow the cursor.
    const listed = [];
    for await (const item of await client.conversations.list({ per_page: 1 })) listed.push(item.id);
    check(JSON.stringify(listed.sort()) === JSON.stringify([id, other.conversation_id].sort()), `conversations.list pages: ${listed}`);
    const searched = [];
    const query = { operator: "OR", value: [
        { field: "source.body", operator: "=", value: "support" },
        { field: "contact_ids", operator: "=", value: bob.id },
    ] };
    for await (const item of await client.conversations.search({ query, pagination: { per_page: 1 } })) searched.push(item.id);
    check(JSON.stringify(searched.sort()) === JSON.stringify([id, other.conversation_id].sort()), `conversations.search pages: ${searched}`);
    const page = await client.conversations.search({ query: { field: "read", operator: "=", value: true } });
    check(page.data.length === 1 && page.data[0].id === id && page.response.total_count === 1, "conversations.search on read");
    const bad = await refused(
        () => client.conversations.search({ query: { operator: "AND", value: [{ field: "priority", operator: "=", value: "x" }] } }),
        400,
        "an unknown search field",
    );
    check(bad.errors[0].field === "query.value[0].field", `the bad field is named: ${JSON.stringify(bad)}`);
    await refused(() => client.conversations.find({ conversation_id: "99999999" }), 404, "an unknown conversation");

    console.log("all Node SDK checks passed");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
