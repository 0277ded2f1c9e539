// The portable schema, written once for all three backends (see migrations/*/).
diesel::table! {
    users (id) {
        id -> BigInt,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        password_hash -> Text,
        role -> SmallInt,
        status -> SmallInt,
        locale -> Text,
        timezone -> Text,
        job_title -> Text,
        phone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        time_format -> SmallInt,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> BigInt,
        name -> Text,
        email -> Text,
        aliases -> Text,
        from_name_mode -> SmallInt,
        from_name_custom -> Text,
        signature -> Text,
        in_host -> Text,
        in_port -> Integer,
        in_security -> SmallInt,
        in_username -> Text,
        in_password -> Text,
        in_folders -> Text,
        in_after_fetch -> SmallInt,
        in_move_folder -> Text,
        fetch_interval_secs -> Integer,
        out_method -> SmallInt,
        out_host -> Text,
        out_port -> Integer,
        out_security -> SmallInt,
        out_username -> Text,
        out_password -> Text,
        auto_reply_enabled -> Bool,
        auto_reply_subject -> Text,
        auto_reply_body -> Text,
        auto_bcc -> Text,
        status_after_reply -> SmallInt,
        subject_token_threading -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        assign_after_reply -> SmallInt,
    }
}

diesel::table! {
    mailbox_users (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        user_id -> BigInt,
        access -> SmallInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        first_name -> Text,
        last_name -> Text,
        company -> Text,
        job_title -> Text,
        notes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    customer_emails (id) {
        id -> BigInt,
        customer_id -> BigInt,
        email -> Text,
        email_type -> SmallInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> BigInt,
        number -> BigInt,
        mailbox_id -> BigInt,
        customer_id -> Nullable<BigInt>,
        customer_email -> Text,
        user_id -> Nullable<BigInt>,
        created_by_user_id -> Nullable<BigInt>,
        conversation_type -> SmallInt,
        status -> SmallInt,
        state -> SmallInt,
        subject -> Text,
        preview -> Text,
        threads_count -> Integer,
        has_attachments -> Bool,
        cc -> Text,
        bcc -> Text,
        last_reply_at -> Timestamp,
        last_reply_from -> SmallInt,
        closed_at -> Nullable<Timestamp>,
        closed_by_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    threads (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        thread_type -> SmallInt,
        status -> SmallInt,
        state -> SmallInt,
        action_type -> Nullable<SmallInt>,
        action_data -> Text,
        body_html -> Text,
        body_text -> Text,
        subject -> Text,
        from_email -> Text,
        from_name -> Text,
        to_list -> Text,
        cc_list -> Text,
        bcc_list -> Text,
        message_id -> Text,
        in_reply_to -> Text,
        references_list -> Text,
        content_hash -> Text,
        headers -> Text,
        raw_path -> Text,
        customer_id -> Nullable<BigInt>,
        created_by_user_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        has_attachments -> Bool,
        opened_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        thread_id -> BigInt,
        conversation_id -> BigInt,
        file_name -> Text,
        mime_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        content_id -> Text,
        is_inline -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    message_ids (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        message_id -> Text,
        thread_id -> BigInt,
        conversation_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    fetch_state (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        folder -> Text,
        uidvalidity -> BigInt,
        last_uid -> BigInt,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_fetch_at -> Nullable<Timestamp>,
        last_error -> Text,
        updated_at -> Timestamp,
        flagged_uid -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        thread_id -> BigInt,
        conversation_id -> BigInt,
        mailbox_id -> BigInt,
        kind -> SmallInt,
        status -> SmallInt,
        due_at -> Timestamp,
        attempts -> Integer,
        last_error -> Text,
        message_id -> Text,
        mime -> Nullable<Binary>,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        envelope -> Text,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        kind -> Text,
        mailbox_id -> Nullable<BigInt>,
        conversation_id -> Nullable<BigInt>,
        thread_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    send_log (id) {
        id -> BigInt,
        outbox_id -> Nullable<BigInt>,
        thread_id -> Nullable<BigInt>,
        mailbox_id -> Nullable<BigInt>,
        recipient -> Text,
        status -> SmallInt,
        smtp_response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activity_log (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        action -> Text,
        subject_type -> Text,
        subject_id -> Nullable<BigInt>,
        details -> Text,
        ip -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stars (id) {
        id -> BigInt,
        user_id -> BigInt,
        conversation_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    followers (id) {
        id -> BigInt,
        user_id -> BigInt,
        conversation_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    options (id) {
        id -> BigInt,
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        key_hash -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        key_prefix -> Text,
        rate_per_minute -> Integer,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        thread_id -> BigInt,
        dedupe_key -> Text,
        folder -> Text,
        uidvalidity -> BigInt,
        uid -> BigInt,
        auto_flags -> SmallInt,
        reply_to -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ingest_failures (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        folder -> Text,
        uidvalidity -> BigInt,
        uid -> BigInt,
        error -> Text,
        raw_path -> Text,
        attempts -> Integer,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        remember -> Bool,
        ip -> Text,
        user_agent -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        scope_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> SmallInt,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    module_state (id) {
        id -> BigInt,
        name -> Text,
        active -> Bool,
        disabled_reason -> Text,
        failures -> Integer,
        settings -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    module_storage (id) {
        id -> BigInt,
        module -> Text,
        storage_key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    event_cursors (id) {
        id -> BigInt,
        consumer -> Text,
        last_event_id -> BigInt,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_prefs (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        email -> Bool,
        in_app -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        event_id -> BigInt,
        conversation_id -> Nullable<BigInt>,
        kind -> Text,
        summary -> Text,
        in_app -> Bool,
        read_at -> Nullable<Timestamp>,
        email_status -> SmallInt,
        email_attempts -> Integer,
        email_next_at -> Nullable<Timestamp>,
        email_error -> Text,
        message_id -> Text,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversation_reads (id) {
        id -> BigInt,
        user_id -> BigInt,
        conversation_id -> BigInt,
        read_at -> Timestamp,
    }
}

diesel::table! {
    conversation_counts (mailbox_id, state, status, user_id) {
        mailbox_id -> BigInt,
        state -> SmallInt,
        status -> SmallInt,
        user_id -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    api_webhooks (id) {
        id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> BigInt,
        event -> Text,
        body -> Text,
        status -> SmallInt,
        attempts -> Integer,
        next_at -> Timestamp,
        last_error -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(user_tokens -> users (user_id));
diesel::joinable!(activity_log -> users (user_id));
diesel::joinable!(mailbox_users -> mailboxes (mailbox_id));
diesel::joinable!(mailbox_users -> users (user_id));
diesel::joinable!(customer_emails -> customers (customer_id));
diesel::joinable!(conversations -> mailboxes (mailbox_id));
diesel::joinable!(conversations -> customers (customer_id));
diesel::joinable!(threads -> conversations (conversation_id));
diesel::joinable!(threads -> customers (customer_id));
diesel::joinable!(attachments -> threads (thread_id));
diesel::joinable!(attachments -> conversations (conversation_id));
diesel::joinable!(message_ids -> mailboxes (mailbox_id));
diesel::joinable!(message_ids -> threads (thread_id));
diesel::joinable!(message_ids -> conversations (conversation_id));
diesel::joinable!(fetch_state -> mailboxes (mailbox_id));
diesel::joinable!(outbox -> threads (thread_id));
diesel::joinable!(outbox -> conversations (conversation_id));
diesel::joinable!(outbox -> mailboxes (mailbox_id));
diesel::joinable!(send_log -> threads (thread_id));
diesel::joinable!(send_log -> mailboxes (mailbox_id));
diesel::joinable!(stars -> users (user_id));
diesel::joinable!(stars -> conversations (conversation_id));
diesel::joinable!(followers -> users (user_id));
diesel::joinable!(followers -> conversations (conversation_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(inbound_messages -> mailboxes (mailbox_id));
diesel::joinable!(inbound_messages -> threads (thread_id));
diesel::joinable!(ingest_failures -> mailboxes (mailbox_id));
diesel::joinable!(notification_prefs -> users (user_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(notifications -> conversations (conversation_id));
diesel::joinable!(conversation_reads -> users (user_id));
diesel::joinable!(conversation_reads -> conversations (conversation_id));
diesel::joinable!(conversation_counts -> mailboxes (mailbox_id));
diesel::joinable!(api_webhooks -> users (user_id));
diesel::joinable!(api_webhook_deliveries -> api_webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    mailboxes,
    mailbox_users,
    customers,
    customer_emails,
    conversations,
    threads,
    attachments,
    message_ids,
    fetch_state,
    outbox,
    events,
    send_log,
    activity_log,
    stars,
    followers,
    options,
    api_keys,
    inbound_messages,
    ingest_failures,
    sessions,
    login_failures,
    user_tokens,
    module_state,
    module_storage,
    event_cursors,
    notification_prefs,
    notifications,
    conversation_reads,
    conversation_counts,
    api_webhooks,
    api_webhook_deliveries,
);

diesel::table! {
    uploads (id) {
        id -> BigInt,
        user_id -> BigInt,
        file_name -> Text,
        mime_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_preferences (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}
