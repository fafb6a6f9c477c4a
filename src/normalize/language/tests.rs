use super::*;

const VIETNAMESE: &str = "Chính phủ thông báo tăng lương tối thiểu vùng từ tháng sau. Bộ Lao động cho biết quyết định này nhằm giúp người lao động ứng phó với chi phí sinh hoạt ngày càng tăng. Các doanh nghiệp tại Hà Nội và Thành phố Hồ Chí Minh có sáu tháng để điều chỉnh bảng lương.";
const INDONESIAN: &str = "Pemerintah Indonesia mengumumkan kenaikan harga bahan bakar minyak mulai pekan depan. Menteri Keuangan mengatakan bahwa subsidi energi sudah terlalu besar dan anggaran negara tidak bisa menanggungnya lagi. Warga Jakarta mengeluh karena ongkos transportasi dan harga mobil bekas ikut naik. Banyak pengemudi ojek daring berharap pemerintah memberikan bantuan uang tunai kepada masyarakat kecil.";
const MALAY: &str = "Kerajaan Malaysia mengumumkan kenaikan harga petrol bermula minggu hadapan. Menteri Kewangan berkata subsidi tenaga sudah terlalu tinggi dan peruntukan negara tidak boleh menampungnya lagi. Penduduk Kuala Lumpur merungut kerana kos pengangkutan dan harga kereta terpakai turut meningkat. Ramai pemandu e-hailing berharap kerajaan akan memberikan bantuan wang tunai kepada rakyat berpendapatan rendah daripada golongan B40.";
const ENGLISH: &str = "The central bank raised its benchmark interest rate by a quarter of a percentage point on Wednesday, citing persistent inflation in food and housing costs. Officials said further increases were possible if prices did not ease by the end of the year. Economists had widely expected the move, and stock markets closed slightly higher after the announcement.";
const CHINESE: &str = "越南政府周三宣布，将从下个月起提高最低工资标准。劳动部官员表示，此举旨在帮助工人应对不断上涨的生活成本。河内和胡志明市的企业有六个月时间调整工资表。";
const THAI: &str = "รัฐบาลประกาศขึ้นค่าแรงขั้นต่ำทั่วประเทศตั้งแต่เดือนหน้า กระทรวงแรงงานระบุว่ามาตรการนี้จะช่วยให้แรงงานรับมือกับค่าครองชีพที่สูงขึ้น ผู้ประกอบการในกรุงเทพฯ มีเวลาหกเดือนในการปรับโครงสร้างค่าจ้าง";

#[test]
fn detects_vietnamese_indonesian_malay_english_chinese_thai_news() {
    assert_eq!(detect(VIETNAMESE), Some("vi"));
    assert_eq!(detect(INDONESIAN), Some("id"));
    assert_eq!(detect(MALAY), Some("ms"));
    assert_eq!(detect(ENGLISH), Some("en"));
    assert_eq!(detect(CHINESE), Some("zh"));
    assert_eq!(detect(THAI), Some("th"));
}

#[test]
fn vietnamese_without_diacritics_is_left_to_the_detector() {
    let bare = "Chinh phu thong bao tang luong toi thieu vung tu thang sau. Bo Lao dong cho biet quyet dinh nay nham giup nguoi lao dong ung pho voi chi phi sinh hoat ngay cang tang.";
    assert_eq!(detect(bare), Some("vi"));
}

#[test]
fn indonesian_and_malay_are_told_apart_by_their_vocabulary() {
    // The same story told twice: Indonesian "polisi, dari, bisa, uang, mobil" against Malaysian
    // "polis, daripada, boleh, wang, kereta".
    let indonesian = "Polisi menangkap dua tersangka pencurian mobil di Surabaya pada Selasa malam. Kepala kepolisian mengatakan para pelaku sudah beraksi di lima lokasi berbeda sejak bulan lalu dan bisa dijerat hukuman penjara tujuh tahun. Barang bukti berupa kunci palsu dan uang hasil penjualan mobil curian telah disita dari rumah tersangka.";
    let malay = "Polis menahan dua suspek kes curi kereta di Johor Bahru pada malam Selasa. Ketua polis daerah berkata kedua-dua suspek dipercayai telah melakukan kesalahan yang sama di lima lokasi berbeza sejak bulan lepas dan boleh dipenjara tujuh tahun. Barang kes termasuk kunci palsu dan wang hasil jualan kereta curi telah dirampas daripada rumah suspek.";
    assert_eq!(detect(indonesian), Some("id"));
    assert_eq!(detect(malay), Some("ms"));
    // Weather, football and market stories, each told in both.
    let pairs = [
        (
            "Badan Meteorologi, Klimatologi, dan Geofisika memperingatkan potensi hujan lebat disertai angin kencang di sebagian besar wilayah Jawa Barat hingga akhir pekan ini. Warga yang tinggal di daerah rawan longsor diminta untuk tetap waspada dan segera mengungsi bila hujan turun terus-menerus selama lebih dari tiga jam.",
            "Jabatan Meteorologi Malaysia mengeluarkan amaran hujan lebat dan ribut petir di beberapa negeri termasuk Kelantan, Terengganu dan Pahang sehingga hujung minggu ini. Penduduk yang tinggal di kawasan rendah dinasihatkan supaya berwaspada dan berpindah ke pusat pemindahan sementara sekiranya paras air sungai terus meningkat.",
        ),
        (
            "Tim nasional sepak bola Indonesia berhasil meraih kemenangan dua gol tanpa balas atas Vietnam dalam laga kualifikasi Piala Dunia yang digelar di Stadion Utama Gelora Bung Karno, Jakarta, Kamis malam. Pelatih mengatakan para pemain tampil disiplin dan bisa menjalankan strategi dengan baik sejak menit pertama.",
            "Pasukan bola sepak kebangsaan Malaysia berjaya meraih kemenangan dua gol tanpa balas ke atas Vietnam dalam perlawanan kelayakan Piala Dunia yang berlangsung di Stadium Nasional Bukit Jalil, Kuala Lumpur, malam Khamis. Jurulatih berkata para pemain beraksi dengan penuh disiplin dan boleh melaksanakan strategi dengan baik sejak minit pertama.",
        ),
        (
            "Harga beras di sejumlah pasar tradisional di Surabaya naik sekitar sepuluh persen dalam sepekan terakhir. Para pedagang mengaku pasokan dari petani berkurang karena musim panen belum tiba, sementara permintaan masyarakat tetap tinggi menjelang hari raya.",
            "Harga beras di beberapa pasar awam di Johor Bahru meningkat kira-kira sepuluh peratus sejak minggu lalu. Para peniaga berkata bekalan daripada pesawah berkurangan kerana musim menuai belum tiba, manakala permintaan orang ramai kekal tinggi menjelang hari raya.",
        ),
    ];
    for (indonesian, malay) in pairs {
        assert_eq!(detect(indonesian), Some("id"), "{indonesian}");
        assert_eq!(detect(malay), Some("ms"), "{malay}");
    }
    // A short headline with each side's giveaway words is still too short to tell.
    assert_eq!(detect("Kerajaan boleh beri wang"), None);
    assert_eq!(detect("Pemerintah bisa beri uang"), None);
}

#[test]
fn three_word_title_is_not_detected_unless_its_script_decides() {
    // Indonesian and Malay alike, and English-looking to a trigram model.
    assert_eq!(detect("Harga minyak naik"), None);
    assert_eq!(detect("Markets close higher"), None);
    assert_eq!(
        detect("Giá xăng tăng"),
        None,
        "no letter only Vietnamese writes"
    );
    assert_eq!(detect("ราคาน้ำมันขึ้น"), Some("th"));
    assert_eq!(detect("油价上涨"), Some("zh"));
}

#[test]
fn short_vietnamese_title_with_vietnamese_letters_is_vietnamese() {
    assert_eq!(
        detect("Chính phủ tăng lương tối thiểu từ tháng sau"),
        Some("vi")
    );
}

#[test]
fn mixed_language_text_is_not_detected() {
    // An English report that quotes an Indonesian statement at length: neither language.
    let mixed = "The minister spoke to reporters in Jakarta on Monday about the fuel subsidy and the budget for next year. Pemerintah akan menaikkan harga bahan bakar minyak mulai pekan depan karena subsidi energi sudah terlalu besar bagi anggaran negara.";
    assert_eq!(detect(mixed), None);
    // Thai and English in equal parts: no script has most of the letters.
    let thai_english =
        "รัฐบาลประกาศขึ้นค่าแรงขั้นต่ำ The government raised the minimum wage nationwide today";
    assert_eq!(detect(thai_english), None);
}

#[test]
fn vietnamese_names_in_english_text_do_not_make_it_vietnamese() {
    let text = "Prime Minister Phạm Minh Chính met investors in Đà Nẵng on Tuesday to discuss new factories near Hồ Chí Minh City, where officials expect foreign investment to grow strongly over the coming years.";
    assert_eq!(detect(text), Some("en"));
}

#[test]
fn japanese_kana_is_not_taken_for_chinese() {
    assert_eq!(detect("東京で新しい駅が開業しました"), Some("ja"));
}

#[test]
fn empty_text_has_no_language() {
    assert_eq!(detect(""), None);
    assert_eq!(detect("  2026 — 100% !!! "), None);
}

#[test]
fn detection_reads_only_the_start_of_the_text() {
    // 600 characters of English, then as much Indonesian: only the English is read.
    let mut text = String::new();
    while text.chars().count() < MAX_DETECTED_CHARS {
        text.push_str(ENGLISH);
        text.push(' ');
    }
    let english_part = text.chars().take(MAX_DETECTED_CHARS).collect::<String>();
    let text = format!("{english_part} {INDONESIAN} {INDONESIAN}");
    assert_eq!(detect(&text), Some("en"));
}

#[test]
fn detection_text_is_title_then_summary_then_content_within_600_characters() {
    let text = detection_text(
        "Harga minyak naik",
        Some("<p>Pemerintah <a href=\"https://x.example/\">mengumumkan</a> kenaikan.</p>"),
        Some(&format!("<p>{}</p>", "kata ".repeat(500))),
    );
    assert!(
        text.starts_with("Harga minyak naik. Pemerintah mengumumkan kenaikan. kata kata"),
        "{text}"
    );
    assert_eq!(text.chars().count(), MAX_DETECTED_CHARS);
    assert_eq!(detection_text("", None, None), "");
}

#[test]
fn declared_language_tags_are_lowercased_and_checked_for_form() {
    assert_eq!(normalized_tag("vi").as_deref(), Some("vi"));
    assert_eq!(normalized_tag(" vi-VN ").as_deref(), Some("vi-vn"));
    assert_eq!(normalized_tag("id_ID").as_deref(), Some("id-id"));
    assert_eq!(normalized_tag("zh-Hans-CN").as_deref(), Some("zh-hans-cn"));
    assert_eq!(normalized_tag("es-419").as_deref(), Some("es-419"));
    for not_a_tag in [
        "",
        "  ",
        "vi, en",
        "en/us",
        "-vi",
        "vi-",
        "4x",
        "vietnamese-language",
    ] {
        assert_eq!(normalized_tag(not_a_tag), None, "{not_a_tag:?}");
    }
}

#[test]
fn content_lang_is_read_from_the_outermost_element_only() {
    assert_eq!(
        content_lang("<!DOCTYPE html><html lang=\"vi\"><body><p>x</p></body></html>").as_deref(),
        Some("vi")
    );
    assert_eq!(
        content_lang("<?xml version=\"1.0\"?><!-- c --> <HTML LANG='id-ID'><p>x</p>").as_deref(),
        Some("id-id"),
        "an <html> element wraps everything, closed or not"
    );
    assert_eq!(
        content_lang("<div class=\"a\" xml:lang=\"ms\"><p>x</p></div>\n").as_deref(),
        Some("ms")
    );
    assert_eq!(
        content_lang("<div data-x=a lang=th><p>x</p></div>").as_deref(),
        Some("th"),
        "unquoted values"
    );
    // The first paragraph's language is not the entry's.
    assert_eq!(
        content_lang("<p lang=\"en\">Quote</p><p>Phần còn lại</p>"),
        None
    );
    // Text before the element, or a start tag past the bytes scanned.
    assert_eq!(content_lang("Intro <div lang=\"en\">x</div>"), None);
    let far = format!("<div {} lang=\"en\">x</div>", "a=\"b\" ".repeat(200));
    assert_eq!(content_lang(&far), None);
    assert_eq!(content_lang("<div lang=\"not a tag\">x</div>"), None);
    assert_eq!(content_lang(""), None);
}

#[test]
fn english_names_in_indonesian_text_do_not_make_it_english() {
    // "The Star", "on the record": English function words, but Indonesian ones too, so the
    // detector decides.
    let text = "The Star melaporkan bahwa pemerintah akan menaikkan harga bahan bakar minyak pada pekan depan. Menteri yang berbicara secara on the record mengatakan subsidi energi sudah terlalu besar untuk anggaran negara tahun ini dan tidak bisa dipertahankan lagi.";
    assert_eq!(detect(text), Some("id"));
}
