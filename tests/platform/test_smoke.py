def test_login_and_create_record(crm):
    response = crm.post("/apps/crm/entities/customer/records",
                        {"name": "华为技术有限公司", "limit": "1234.50", "level": "A"})
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["name"] == "华为技术有限公司"
    assert record["limit"] == "1234.50"
    assert record["version"] == 1
