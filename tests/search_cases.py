"""Keyword queries as citizens type them, built from real names of the national catalogue, each
with the procedure a person typing it is looking for."""

from __future__ import annotations

BIRTH_REGISTRATION = "1.001193"

# Queries the issue names: each must put the birth registration first.
MUST_BE_FIRST: list[tuple[str, str]] = [
    ("dang ky khai sinh", BIRTH_REGISTRATION),
    ("ĐĂNG KÝ KHAI SINH", BIRTH_REGISTRATION),
    ("Đăng ký khai sinh", BIRTH_REGISTRATION),
    ("dang ki khai sinh", BIRTH_REGISTRATION),
    ("khai sinh", BIRTH_REGISTRATION),
    ("1.001193", BIRTH_REGISTRATION),
    ("dang ky khai snh", BIRTH_REGISTRATION),
    ("dang ky khaii sinh", BIRTH_REGISTRATION),
    ("dang ky khia sinh", BIRTH_REGISTRATION),
    ("  đăng\u00a0ký   khai sinh ", BIRTH_REGISTRATION),
]

# (query, expected code): accents or not, word order as people say it, abbreviations, typos.
QUERIES: list[tuple[str, str]] = [
    ("bo nhiem cong chung vien", "1.013803"),
    ("bổ nhiệm lại công chứng viên", "1.013804"),
    ("cap lai giay phep su dung vu khi quan dung", "3.000396"),
    ("khai tu co yeu to nuoc ngoai", "1.001766"),
    ("dang ky nhan cha me con co yeu to nuoc ngoai", "2.000779"),
    ("giay phep lien van GMS", "1.002817"),
    ("tai xuat hang hoa tam quan", "1.008618"),
    ("thu hoi nha o thuoc tai san cong", "6.003637"),
    ("chuyển nhượng quyền khai thác tận thu khoáng sản", "1.014283"),
    ("gia han giay phep tham do khoang san", "1.014263"),
    ("thanh lap van phong giam dinh tu phap", "2.000890"),
    ("cấp lại thẻ cộng tác viên trợ giúp pháp lý", "2.000518"),
    ("chuyen doi chung chi hanh nghe hoat dong xay dung", "1.013219"),
    ("giay xac nhan nguyen lieu thuy san khai thac", "1.003593"),
    ("dang ky hoat dong doanh nghiep dau gia tai san", "2.001395"),
    ("khu cong nghiep sinh thai", "2.002728"),
    ("chứng nhận đủ điều kiện sản xuất vàng trang sức", "1.000586"),
    ("tat toan tai khoan KBNN", "3.000114"),
    ("dang ky lan dau phuong tien vui choi giai tri duoi nuoc", "2.001215"),
    ("tranh chấp đất đai cấp xã", "1.013967"),
    ("chap thuan nguyen tac to chuc lai quy tin dung", "1.003085"),
    ("lệ phí trước bạ nhà đất", "1.007277"),
    ("thong bao hop dong gia cong", "1.011725"),
    ("nhap khau thuc an chan nuoi", "1.008122"),
    ("ban hang mien thue nguoi cho xuat canh", "1.009061"),
    ("xe qua tai trong qua kho", "1.000028"),
    ("thanh toan chi phi BHYT", "1.001909"),
    ("cấp lại chứng chỉ hành nghề luật sư bị thu hồi", "1.008624"),
    ("chi nhanh cong ty luat nuoc ngoai", "1.002181"),
    ("gửi, nhận đơn khởi kiện", "3.000163"),
    ("thu hoi chung nhan dang ky xe bien so", "1.013065"),
    ("nhập khẩu xe ô tô không nhằm mục đích thương mại", "1.000115"),
    ("thay doi dang ky sau chuyen nhuong van phong thua phat lai", "1.008937"),
    ("cho thue nha o cu thuoc tai san cong ky lai hop dong", "1.012898"),
    ("miễn giảm tiền thuê nhà", "1.014535"),
    ("dang ky khai tu", "1.000656"),
    ("DANG KY KET HON", "1.000894"),
    # typos
    ("bo nhiem cong chung vein", "1.013803"),
    ("khu cong nghep sinh thai", "2.002728"),
    ("tat toan tai khoan kho bac", "3.000114"),
    ("gia han giay phep tham do khoang sna", "1.014263"),
]
