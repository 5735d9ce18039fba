from toolkit.frameworks import load_frameworks, mlcf_covers


def test_framework_sizes_and_exact_names():
    fw = load_frameworks()
    assert len(fw.hlm.areas) == 9
    assert len(fw.gpc.areas) == 9
    assert len(fw.mlcf.top_level()) == 5
    assert all(len(fw.mlcf.children(d.id)) == 4 for d in fw.mlcf.top_level())
    assert fw.hlm.get("engaging-the-team").name == "Engaging the team"
    element = fw.mlcf.get("working-with-others.encouraging-contribution")
    assert (element.number, element.name) == ("2.3", "Encouraging Contribution")
    assert fw.gpc.get("gpc-5").name == "Capabilities in leadership and team working"


def test_ids_are_names_in_lower_case_with_hyphens():
    fw = load_frameworks()
    for area in fw.hlm.areas:
        assert area.id == area.name.lower().replace(" ", "-")
    for area in fw.mlcf.areas:
        own = area.id.split(".")[-1]
        assert own == area.name.lower().replace(" ", "-")


def test_descriptions_are_whole_sentences():
    for framework in load_frameworks():
        for area in framework.areas:
            assert area.description.endswith("."), area


def test_domain_tag_covers_its_elements_and_element_covers_domain():
    assert mlcf_covers("working-with-others", "working-with-others.developing-networks")
    assert mlcf_covers("working-with-others.developing-networks", "working-with-others")
    assert not mlcf_covers("working-with-others", "setting-direction")
