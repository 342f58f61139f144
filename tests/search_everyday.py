"""Everyday queries: what citizens type when they do not know a procedure's official name.

The development set of issue 13. Each query is written as people type it into a portal's search
box or ask it at a one-stop counter: mostly without accents, with everyday names ("sổ đỏ", "giấy
độc thân", "hộ khẩu", "bằng lái"), abbreviations (CCCD, GPLX, BHYT, BHXH, TNCN, PCCC), filler
words ("làm", "xin", "cần", "giấy tờ gì", "cho con") and a few typos. None copies an official
name. Each is paired with the codes of the national catalogue's procedures that correctly answer
it; a query counts as found when one of them is among the first five results.

How it was built: for each area the citizen-facing procedures of the catalogue
(/work/shared/data/procedures/national-catalogue.jsonl, 1,601 procedures) were read field by
field (hộ tịch, cư trú, căn cước, xuất nhập cảnh, đất đai, xây dựng, hộ kinh doanh, thuế, BHXH
and BHYT, giao thông, chứng thực, lý lịch tư pháp, trợ giúp pháp lý, giảm nghèo, chính sách...),
then the questions people ask about them were written from everyday usage (counter questions,
forum titles), and every code was checked against the file. Areas the catalogue does not cover
(schools, hospitals, the disability and elderly allowances) are left out: their answers are not
in it. The lexicon (services/catalogue/data/lexicon.toml) is tuned on this set; acceptance uses
a held-out set.
"""

from __future__ import annotations

# Codes shared by several queries.
BIRTH = frozenset({"1.001193", "1.000689", "1.003583"})
DEATH = frozenset({"1.000656", "1.000419"})
MARRIAGE = frozenset({"1.000894", "1.000593"})
MARRIAGE_FOREIGN = frozenset({"2.000806", "1.000094"})
SINGLE_STATUS = frozenset({"1.004873"})
PERMANENT_RESIDENCE = frozenset({"1.004222"})
TEMPORARY_RESIDENCE = frozenset({"1.004194"})
ID_CARD_FIRST = frozenset({"1.014061", "2.000200"})
ID_CARD_RENEW = frozenset({"1.014063", "2.001195", "1.014067"})
ID_CARD_LOST = frozenset({"1.014064", "2.001194", "1.014068"})
PASSPORT = frozenset({"1.001456"})
LAND_FIRST_CERTIFICATE = frozenset({"1.013978", "1.012753"})
BUILDING_PERMIT_NEW = frozenset({"1.013225", "1.013236"})
HOUSEHOLD_BUSINESS = frozenset({"1.001612"})
DRIVING_LICENCE_REISSUE = frozenset({"3.000348"})
HEALTH_CARD_REISSUE = frozenset({"1.001294", "1.002759"})
CERTIFIED_COPY = frozenset({"2.000815"})
POOR_HOUSEHOLD = frozenset({"1.011606", "1.011607"})

EVERYDAY: list[tuple[str, frozenset[str]]] = [
    # --- the issue's examples
    ("làm sổ đỏ", LAND_FIRST_CERTIFICATE),
    ("xin giấy độc thân", SINGLE_STATUS),
    ("nhập hộ khẩu", PERMANENT_RESIDENCE),
    ("xin giấy chứng tử", DEATH),
    ("cưới vợ cần làm giấy tờ gì", MARRIAGE),
    ("công chứng giấy tờ", CERTIFIED_COPY),
    ("cấp lại gplx", DRIVING_LICENCE_REISSUE),
    ("đổi cccd", ID_CARD_RENEW),
    ("mất thẻ bhyt", HEALTH_CARD_REISSUE),
    # --- hộ tịch
    ("lam giay khai sinh cho con", BIRTH),
    ("đăng kí khai sinh cho bé mới sinh", BIRTH),
    ("khai tu cho bo", DEATH),
    ("dang ky ket hon", MARRIAGE),
    ("lay chong nguoi nuoc ngoai", MARRIAGE_FOREIGN),
    ("giay xac nhan doc than", SINGLE_STATUS),
    ("xac nhan tinh trang hon nhan de mua nha", SINGLE_STATUS),
    ("nhận con ngoài giá thú", frozenset({"1.001022", "1.000689"})),
    ("thu tuc nhan con nuoi", frozenset({"2.001263", "2.001255"})),
    ("đổi tên cho con", frozenset({"1.004859", "2.000748"})),
    ("sua sai ngay sinh tren giay khai sinh", frozenset({"1.004859"})),
    ("xin trich luc khai sinh", frozenset({"2.000635"})),
    ("mất giấy khai sinh làm lại", frozenset({"1.004884", "2.000635"})),
    ("dang ky giam ho cho chau", frozenset({"1.004837"})),
    ("ghi chu ly hon o nuoc ngoai", frozenset({"2.000554"})),
    # --- cư trú
    ("cắt hộ khẩu", frozenset({"1.003197"})),
    ("dang ky tam tru o tro", TEMPORARY_RESIDENCE),
    ("đăng ký tạm chú", TEMPORARY_RESIDENCE),
    ("khai bao tam vang", frozenset({"1.003677"})),
    ("gia han tam tru", frozenset({"1.002755"})),
    ("tách khẩu ra ở riêng", frozenset({"1.010038"})),
    ("xin giay xac nhan cu tru", frozenset({"1.010041"})),
    ("bao luu tru cho khach nghi qua dem", frozenset({"2.001159"})),
    # --- căn cước, định danh
    ("lam cccd lan dau", ID_CARD_FIRST),
    ("mat can cuoc cong dan", ID_CARD_LOST),
    ("làm căn cước cho bé dưới 14 tuổi", frozenset({"1.014062", "1.012549"})),
    ("doi cmnd sang can cuoc", ID_CARD_RENEW | ID_CARD_FIRST),
    ("xac nhan so cmnd cu", frozenset({"1.012566"})),
    ("kich hoat vneid muc 2", frozenset({"3.000228"})),
    ("mở khóa tài khoản vneid", frozenset({"3.000277", "3.000275"})),
    # --- xuất nhập cảnh
    ("lam ho chieu", PASSPORT),
    ("xin passport đi du lịch", PASSPORT),
    ("mat ho chieu phai lam sao", frozenset({"1.010385", "1.001445", "1.010386"})),
    ("xin visa cho nguoi nuoc ngoai", frozenset({"1.001194"})),
    ("gia han visa", frozenset({"1.001146", "1.002411"})),
    ("the tam tru cho nguoi nuoc ngoai", frozenset({"1.003460"})),
    # --- đất đai
    ("cap so hong lan dau", LAND_FIRST_CERTIFICATE),
    ("sang tên sổ đỏ", frozenset({"1.012787", "1.012785"})),
    ("tach thua dat", frozenset({"1.012784"})),
    ("chuyen dat nong nghiep len tho cu", frozenset({"1.013823", "1.013949", "1.013992"})),
    ("mất sổ đỏ", frozenset({"1.012786"})),
    ("doi so do cu sang so moi", frozenset({"1.012783"})),
    ("tranh chap dat dai voi hang xom", frozenset({"1.012812", "1.013967", "1.012805"})),
    ("the chap so do vay ngan hang", frozenset({"1.011441"})),
    ("xoa the chap so do", frozenset({"1.011443"})),
    ("sai ten tren so do", frozenset({"1.012790", "1.012796", "1.013833"})),
    ("nop le phi truoc ba nha dat", frozenset({"1.007277"})),
    # --- xây dựng, nhà ở
    ("xin phép xây nhà", frozenset({"1.013225"})),
    ("giay phep xay dung", BUILDING_PERMIT_NEW),
    ("xin phep sua nha", frozenset({"1.013229", "1.013238"})),
    ("gia hạn giấy phép xây dựng", frozenset({"1.013227", "1.013233"})),
    ("mua nha o xa hoi", frozenset({"1.014632"})),
    # --- kinh doanh, thuế
    ("dang ky ho kinh doanh", HOUSEHOLD_BUSINESS),
    ("mở quán ăn cần giấy phép gì", HOUSEHOLD_BUSINESS),
    ("giay phep kinh doanh ho ca the", HOUSEHOLD_BUSINESS | {"2.000575"}),
    ("tam ngung kinh doanh ho kinh doanh", frozenset({"1.001570"})),
    ("dong cua ho kinh doanh", frozenset({"1.001266"})),
    ("thanh lap cong ty tnhh 1 thanh vien", frozenset({"2.001583"})),
    ("mo cong ty co phan", frozenset({"2.002043"})),
    ("giay chung nhan attp", frozenset({"2.001827"})),
    ("dang ky ma so thue ca nhan", frozenset({"1.008498"})),
    ("đăng ký người phụ thuộc giảm trừ gia cảnh", frozenset({"1.008498"})),
    ("quyet toan thue tncn", frozenset({"2.002233", "1.008309"})),
    ("nop thue ho kinh doanh", frozenset({"1.011022", "1.014976"})),
    ("giay phep kinh doanh van tai", frozenset({"1.000703"})),
    # --- BHXH, BHYT
    ("doi the bao hiem y te", frozenset({"1.002438", "1.001321", "1.002759"})),
    ("mua bhyt", frozenset({"1.001939", "1.002051"})),
    ("rut bhxh 1 lan", frozenset({"1.001613"})),
    ("xin tien thai san", frozenset({"2.000693"})),
    ("nghi om huong bhxh", frozenset({"1.001667"})),
    ("bi tai nan lao dong", frozenset({"1.001632", "1.001643", "1.001521"})),
    ("mat so bao hiem xa hoi", frozenset({"1.002759"})),
    ("tien tuat khi nguoi than mat", frozenset({"2.000821"})),
    ("uy quyen nhan tro cap that nghiep", frozenset({"1.001601"})),
    # --- giao thông
    ("mất bằng lái xe", DRIVING_LICENCE_REISSUE),
    ("cap lai giay phep lai se", DRIVING_LICENCE_REISSUE),
    ("dang ky xe may moi mua", frozenset({"1.013067", "1.012575", "1.013066"})),
    ("sang ten xe may", frozenset({"1.013076"})),
    ("mat cavet xe", frozenset({"1.013082", "1.013080"})),
    ("bấm biển số xe", frozenset({"1.013067"})),
    # --- tư pháp
    ("photo cong chung", CERTIFIED_COPY),
    ("chung thuc chu ky", frozenset({"2.000884"})),
    ("cong chung hop dong nha dat", frozenset({"2.001035"})),
    ("lam di chuc", frozenset({"2.001019"})),
    ("tu choi nhan thua ke", frozenset({"2.001016"})),
    ("chia thua ke dat", frozenset({"2.001406"})),
    ("xin lý lịch tư pháp", frozenset({"3.000333"})),
    ("lam phieu lltp", frozenset({"3.000333"})),
    ("can luat su mien phi", frozenset({"2.000829"})),
    ("khieu nai cong an", frozenset({"1.003504", "1.004335"})),
    ("yeu cau thi hanh an", frozenset({"1.003091"})),
    ("xin ban sao ban an", frozenset({"3.000165"})),
    ("nhap quoc tich viet nam", frozenset({"2.002039"})),
    # --- chính sách, giảm nghèo, xã hội
    ("xét hộ nghèo", POOR_HOUSEHOLD),
    ("xin ho can ngheo", POOR_HOUSEHOLD),
    ("tro cap thuong binh", frozenset({"1.004089"})),
    ("chat doc da cam", frozenset({"1.004205"})),
    ("cai nghien tu nguyen", frozenset({"3.000527"})),
    # --- an toàn, môi trường
    ("nghiem thu pccc", frozenset({"3.000493", "3.000490"})),
    ("giay phep moi truong", frozenset({"1.010727"})),
    # --- added with the lexicon (areas the first set left out: pensions, martyrs, state
    # compensation, powers of attorney, lost marriage certificates, household books, VNeID,
    # foreign spouses by country, business changes, shorthand "dk"/"hk")
    ("uy quyen nhan luong huu", frozenset({"1.001601"})),
    ("xet cong nhan liet sy", frozenset({"1.004163"})),
    ("boi thuong oan sai", frozenset({"2.002165", "2.002192"})),
    ("lam giay uy quyen", frozenset({"2.000884"})),
    ("mat giay dang ky ket hon", frozenset({"1.004746", "2.000635"})),
    ("lay vo nguoi trung quoc", MARRIAGE_FOREIGN),
    ("cap lai so ho khau", frozenset({"1.010041"})),
    ("vneid bi khoa", frozenset({"3.000275", "3.000277"})),
    ("dk thuong tru", PERMANENT_RESIDENCE),
    ("chuyen hk ve nha chong", PERMANENT_RESIDENCE),
    ("thay doi dia chi ho kinh doanh", frozenset({"2.000720"})),
    ("thanh lap doanh nghiep tu nhan", frozenset({"2.001610"})),
    ("tham duyet thiet ke pccc", frozenset({"3.000492"})),
    ("tro lai quoc tich", frozenset({"2.002038"})),
    ("hoan thue thu nhap ca nhan", frozenset({"2.002233", "1.008562"})),
    ("so do bi hu hong", frozenset({"1.012783"})),
]
