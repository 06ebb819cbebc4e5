"""List totals: exact up to COUNT_CAP matches, "cap+" beyond unless count=exact."""


def test_totals_are_capped_unless_exact_is_asked(crm, app):
    base = "/apps/crm/entities/customer/records"
    for n in range(5):
        assert crm.post(base, {"name": f"客户{n}", "level": "A"}).status_code == 201
    app.config["COUNT_CAP"] = 3
    capped = crm.get(base, query_string={"limit": "2"}).get_json()
    assert (capped["total"], capped["total_exact"]) == (3, False)
    assert capped["next_cursor"] is not None  # more pages exist past the cap
    exact = crm.get(base, query_string={"limit": "2", "count": "exact"}).get_json()
    assert (exact["total"], exact["total_exact"]) == (5, True)
    under = crm.get(base, query_string={"name": "客户1"}).get_json()
    assert (under["total"], under["total_exact"]) == (1, True)
    # walking the capped list still reaches every record
    seen, params = [], {"limit": "2"}
    while True:
        page = crm.get(base, query_string=params).get_json()
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        params = {"limit": "2", "cursor": page["next_cursor"]}
    assert len(seen) == 5 and len(set(seen)) == 5
    bad = crm.get(base, query_string={"count": "approximate"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_query"
