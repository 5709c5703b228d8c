use super::*;

fn read_str(s: &str) -> Result<ContactList, ContactFileError> {
    read(s.as_bytes(), Numbering::shipped())
}

#[test]
fn a_russian_excel_csv_in_cp1251_with_semicolons_reads_fully() {
    let text = "ФИО;Телефон;Компания;Город;Часовой пояс;Согласие\r\n\
                Иванов, Иван;8 (916) 123-45-67;ООО «Ромашка»;Москва;;да, 01.10.2026\r\n\
                Петрова Анна;+7 914 070-12-34;ИП Петрова;Владивосток;;\r\n\
                ;;;;;\r\n\
                Сидоров;12345;;;;\r\n\
                Иванов, Иван;89161234567;;;;\r\n\
                Козлов;7.9001234567E10;ТК Север;;МСК+2;\r\n\
                Кузнецов;+7 958 000-00-01;;;;\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let list = read(&bytes, Numbering::shipped()).unwrap();
    assert_eq!(list.phone_column, "Телефон");
    assert_eq!(list.variables, vec!["name", "company", "city"]);
    assert_eq!(list.rows, 6, "the empty line is not a row");
    assert_eq!(
        list.invalid,
        vec![Invalid {
            line: 5,
            value: "12345".into()
        }]
    );
    assert_eq!(list.duplicates, vec![6]);
    let phones: Vec<&str> = list.contacts.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(
        phones,
        vec![
            "+79161234567",
            "+79140701234",
            "+79001234567",
            "+79580000001"
        ]
    );
    let ivan = &list.contacts[0];
    assert_eq!(ivan.line, 2);
    assert_eq!(ivan.variables["name"], "Иванов, Иван");
    assert_eq!(ivan.variables["company"], "ООО «Ромашка»");
    assert_eq!(ivan.consent.as_deref(), Some("да, 01.10.2026"));
    assert_eq!(
        (ivan.zone, ivan.zone_source),
        (Some(Tz::Europe__Moscow), ZoneSource::Registry)
    );
    let anna = &list.contacts[1];
    assert_eq!(
        (anna.zone, anna.zone_source),
        (Some(Tz::Asia__Vladivostok), ZoneSource::Registry)
    );
    // The tz column wins over the registry: МСК+2 is UTC+5.
    let kozlov = &list.contacts[2];
    assert_eq!(
        (kozlov.zone, kozlov.zone_source),
        (Some(Tz::Etc__GMTMinus5), ZoneSource::Column)
    );
    // 958 000… is a range the registry gives to «Российская Федерация»: no zone, flagged.
    assert_eq!(list.contacts[3].zone_source, ZoneSource::Unknown);
    assert_eq!(list.unknown_zone(), 1);
}

#[test]
fn comma_and_tab_separated_files_and_english_headers() {
    let list = read_str("name,phone,city\nIvan,+79161234567,Moscow\n").unwrap();
    assert_eq!(list.contacts[0].variables["city"], "Moscow");
    let list = read_str("company\tnumber\nАльфа\t9161234567\n").unwrap();
    assert_eq!(list.contacts[0].phone.as_str(), "+79161234567");
    assert_eq!(list.contacts[0].variables["company"], "Альфа");
}

#[test]
fn without_a_header_the_numbers_are_found_by_their_content() {
    let list = read_str("Иван;+79161234567;Москва\nПётр;+79161234568;Казань\n").unwrap();
    assert_eq!(list.phone_column, "2");
    assert_eq!(list.contacts.len(), 2);
    assert_eq!(list.contacts[0].line, 1);
    assert_eq!(list.contacts[1].variables["col3"], "Казань");
}

#[test]
fn a_header_that_names_no_phone_column_is_read_by_content() {
    let list = read_str("Клиент;Контакты\nИван;+79161234567\nПётр;+79161234568\n").unwrap();
    assert_eq!(list.phone_column, "Контакты");
    assert_eq!(list.contacts.len(), 2);
}

#[test]
fn files_that_cannot_be_a_contact_list_get_a_clear_error() {
    assert_eq!(read_str(""), Err(ContactFileError::Empty));
    assert_eq!(read_str("\n\n;;\n"), Err(ContactFileError::Empty));
    assert_eq!(read_str("Имя;Телефон\n"), Err(ContactFileError::Empty));
    assert_eq!(
        read_str("Имя;Город\nИван;Москва\nПётр;Казань\n"),
        Err(ContactFileError::NoPhoneColumn {
            columns: vec!["Имя".into(), "Город".into()]
        })
    );
    let big = vec![b'7'; 50 * 1024 * 1024];
    assert_eq!(
        read(&big, Numbering::shipped()),
        Err(ContactFileError::TooLarge { max_mb: 20 })
    );
    let mut junk = b"PK\x03\x04".to_vec();
    junk.extend_from_slice(&[1u8; 200]);
    assert!(matches!(
        read(&junk, Numbering::shipped()),
        Err(ContactFileError::Table(_))
    ));
}

#[test]
fn an_xlsx_with_phones_stored_as_floats_reads_as_numbers() {
    let bytes = crate::bench::contacts::xlsx(3).unwrap();
    let list = read(&bytes, Numbering::shipped()).unwrap();
    assert_eq!(list.phone_column, "Телефон");
    let phones: Vec<&str> = list.contacts.iter().map(|c| c.phone.as_str()).collect();
    // 79 000 000 000 + i × 7 919 993, as the bench writes them.
    assert_eq!(phones, vec!["+79000000000", "+79007919993", "+79015839986"]);
    assert_eq!(list.contacts[1].variables["name"], "Клиент 1");
    assert_eq!(list.contacts[1].variables["city"], "Владивосток");
    // The same list as a cp1251 CSV reads the same.
    let csv = read(&crate::bench::contacts::csv_cp1251(3), Numbering::shipped()).unwrap();
    assert_eq!(csv.contacts, list.contacts);
}

#[test]
fn zones_as_managers_write_them() {
    assert_eq!(zone("Asia/Vladivostok"), Some(Tz::Asia__Vladivostok));
    assert_eq!(zone("UTC+10"), Some(Tz::Etc__GMTMinus10));
    assert_eq!(zone("+3"), Some(Tz::Etc__GMTMinus3));
    assert_eq!(zone("мск+7"), Some(Tz::Etc__GMTMinus10));
    assert_eq!(zone("MSK"), Some(Tz::Etc__GMTMinus3));
    assert_eq!(zone("GMT-2"), Some(Tz::Etc__GMTPlus2));
    assert_eq!(zone("Марс"), None);
    assert_eq!(zone("UTC+40"), None);
}
