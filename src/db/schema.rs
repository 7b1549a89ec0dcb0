//! The portable schema both backends share (written by hand: only types diesel's
//! `MultiConnection` supports on both backends).

diesel::table! {
    regions (code) {
        code -> Text,
        name -> Text,
        level -> Text,
        kind -> Nullable<Text>,
        parent_code -> Nullable<Text>,
    }
}

diesel::table! {
    sectors (code) {
        code -> Text,
        label -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    item_categories (code) {
        code -> Text,
        label -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    organisations (code) {
        code -> Text,
        name -> Text,
        kind -> Text,
        sector -> Nullable<Text>,
        region_code -> Text,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    catalogue_editions (code) {
        code -> Text,
        province_code -> Text,
        title -> Text,
        status -> Text,
        based_on -> Nullable<Text>,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    catalogue_items (id) {
        id -> BigInt,
        edition_code -> Text,
        code -> Text,
        name -> Text,
        category -> Text,
        source -> Text,
        delegation_mode -> Nullable<Text>,
        sector -> Text,
        domain -> Text,
        legal_basis -> Text,
        responsibilities -> Text,
        accountability -> Text,
        time_limit_days -> Nullable<Integer>,
        high_frequency -> Bool,
        service_guide -> Nullable<Text>,
        parent_code -> Nullable<Text>,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        township_kinds -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_sub -> Text,
        actor_org -> Text,
        actor_roles -> Text,
        region_code -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        summary -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
        keyed_from -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (owner, idem_key) {
        owner -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        target -> Text,
        status -> Nullable<Integer>,
        headers -> Nullable<Text>,
        body -> Nullable<Binary>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_anchors (id) {
        id -> BigInt,
        seq -> BigInt,
        mac -> Text,
        subject -> Text,
        jws -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    claim_rounds (id) {
        id -> BigInt,
        county_code -> Text,
        edition_code -> Text,
        title -> Text,
        deadline -> Date,
        status -> Text,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        items_offered -> BigInt,
        counts_revision -> BigInt,
    }
}

diesel::table! {
    claim_counts (round_id, township_code, category, domain, state) {
        round_id -> BigInt,
        township_code -> Text,
        category -> Text,
        domain -> Text,
        state -> Text,
        claims -> BigInt,
    }
}

diesel::table! {
    claims (id) {
        id -> BigInt,
        round_id -> BigInt,
        township_code -> Text,
        item_id -> BigInt,
        item_code -> Text,
        category -> Text,
        domain -> Text,
        sector -> Text,
        state -> Text,
        unit_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        revision -> BigInt,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    claim_events (id) {
        id -> BigInt,
        claim_id -> BigInt,
        from_state -> Text,
        to_state -> Text,
        actor_sub -> Text,
        actor_org -> Text,
        unit_code -> Nullable<Text>,
        comment -> Nullable<Text>,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    duty_lists (county_code) {
        county_code -> Text,
        revision -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    duty_matters (id) {
        id -> BigInt,
        county_code -> Text,
        code -> Text,
        name -> Text,
        search_text -> Text,
        domain -> Text,
        legal_basis -> Text,
        township_duties -> Text,
        one_matter -> Bool,
        lead_response_minutes -> Nullable<Integer>,
        support_arrival_minutes -> Nullable<Integer>,
        notes -> Nullable<Text>,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    duty_departments (matter_id, org_code) {
        matter_id -> BigInt,
        county_code -> Text,
        org_code -> Text,
        role -> Text,
        position -> Integer,
        duties -> Text,
    }
}

diesel::table! {
    duty_admissions (id) {
        id -> BigInt,
        county_code -> Text,
        org_code -> Text,
        requested_by -> Text,
        proposal -> Text,
        justification -> Text,
        status -> Text,
        decision_reason -> Nullable<Text>,
        matter_code -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        revision -> BigInt,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    list_versions (id) {
        id -> BigInt,
        county_code -> Text,
        kind -> Text,
        number -> Integer,
        status -> Text,
        title -> Text,
        change_summary -> Text,
        content_hash -> Text,
        item_count -> Integer,
        answered_findings -> Text,
        submitted_by -> Text,
        submitted_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        published_by -> Nullable<Text>,
        published_at -> Nullable<Timestamp>,
        effective_from -> Nullable<Date>,
        effective_to -> Nullable<Date>,
        revision -> BigInt,
        signature -> Nullable<Text>,
        anchor_seq -> Nullable<BigInt>,
        anchor_mac -> Nullable<Text>,
        anchor_jws -> Nullable<Text>,
    }
}

diesel::table! {
    version_contents (version_id) {
        version_id -> BigInt,
        content -> Text,
        content_gzip -> Nullable<Binary>,
    }
}

diesel::table! {
    version_slices (version_id, township) {
        version_id -> BigInt,
        township -> Text,
        content_hash -> Text,
        body -> Binary,
        body_gzip -> Binary,
        signature -> Text,
    }
}

diesel::table! {
    version_reviews (id) {
        id -> BigInt,
        version_id -> BigInt,
        stage -> Text,
        decision -> Text,
        reviewer_sub -> Text,
        reviewer_org -> Text,
        comments -> Text,
        reviewed_hash -> Text,
        created_at -> Timestamp,
        reviewer_org_name -> Text,
    }
}

diesel::table! {
    review_findings (id) {
        id -> BigInt,
        review_id -> BigInt,
        item_code -> Text,
        problem -> Text,
        law -> Nullable<Text>,
        severity -> Text,
        change_required -> Text,
    }
}

diesel::joinable!(organisations -> regions (region_code));
diesel::joinable!(claims -> claim_rounds (round_id));
diesel::joinable!(claim_counts -> claim_rounds (round_id));
diesel::joinable!(claims -> catalogue_items (item_id));
diesel::joinable!(claims -> regions (township_code));
diesel::joinable!(claim_events -> claims (claim_id));
diesel::joinable!(version_contents -> list_versions (version_id));
diesel::joinable!(version_slices -> list_versions (version_id));
diesel::joinable!(catalogue_items -> catalogue_editions (edition_code));
diesel::joinable!(catalogue_items -> item_categories (category));

diesel::allow_tables_to_appear_in_same_query!(
    regions,
    sectors,
    item_categories,
    organisations,
    catalogue_editions,
    catalogue_items,
    audit_events,
    audit_head,
    audit_anchors,
    claim_rounds,
    claim_counts,
    claims,
    claim_events,
    duty_lists,
    duty_matters,
    duty_departments,
    duty_admissions,
    list_versions,
    version_contents,
    version_slices,
    version_reviews,
    review_findings,
);
