"""The public pages' words in English and Arabic, and how a page picks its language.

Each page gets `t`, the words of its language; `{organisation}`, `{address}` and `{minutes}`
are filled in by the template (they are escaped there like any other value).
"""

from __future__ import annotations

from publisher.services.accounts import INTERFACE_LANGUAGES

LANGUAGES = INTERFACE_LANGUAGES
RIGHT_TO_LEFT = frozenset({"ar"})
#: each language's name in itself (the language switch, the language choice)
ENDONYMS = {"en": "English", "ar": "العربية"}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "skip": "Skip to the content",
        "switch_language": "Language",
        "optional": "optional",
        "subscribe_title": "Press releases by email",
        "subscribe_intro": (
            "For journalists and editors: get {organisation}'s press releases as they go out, "
            "or one briefing a day. We first send you an email to confirm your address."
        ),
        "field_email": "Email address",
        "field_name": "Your name",
        "field_outlet": "Outlet",
        "field_outlet_hint": "The newspaper, agency or programme you work for.",
        "field_language": "Language of the releases",
        "field_beats": "Topics",
        "field_beats_hint": "Choose none to get every topic.",
        "no_beats_yet": "Every topic: none has been published yet.",
        "field_cadence": "How often",
        "cadence_instant": "Each release as it goes out",
        "cadence_daily": "One daily briefing",
        "cadence_both": "Both",
        "sign_up": "Sign up",
        "privacy": (
            "We use your address only to send you what you ask for. Every email has a link "
            "to change your choices or to unsubscribe."
        ),
        "error_summary": "Please check the form:",
        "error_email": "Enter an email address, like name@example.org.",
        "error_language": "Choose one of the languages.",
        "error_beats": "Choose topics from the list.",
        "error_cadence": "Choose how often you want to hear from us.",
        "error_name": "Keep it under 200 characters.",
        "error_outlet": "Keep it under 200 characters.",
        "sent_title": "Check your inbox",
        "sent_body": (
            "We have sent a message to {address} with a link to confirm your subscription. "
            "Nothing else will be sent until you confirm."
        ),
        "sent_expiry": "The link works for 48 hours. No message? Look in your spam folder.",
        "confirm_title": "Confirm your subscription",
        "confirm_body": (
            "One last step: press the button to start getting {organisation}'s press releases "
            "at {address}."
        ),
        "confirm_button": "Confirm my subscription",
        "confirmed_title": "You are subscribed",
        "confirmed_body": "{address} will now get {organisation}'s press releases.",
        "confirmed_again_title": "Already confirmed",
        "confirmed_again_body": "{address} is already subscribed: nothing more to do.",
        "manage": "You can change your language, topics or frequency at any time.",
        "manage_link": "Manage your preferences",
        "nothing_title": "Nothing to confirm",
        "nothing_body": (
            "This sign-up has already been used or is no longer waiting. To subscribe, "
            "please fill in the form again."
        ),
        "sign_up_again": "Sign up again",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_body": (
            "Press the button to stop every email from {organisation} to {address}."
        ),
        "unsubscribe_button": "Unsubscribe",
        "unsubscribe_instead": "Or change what you receive instead",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_body": "{address} will get no more emails from us.",
        "changed_mind": "Changed your mind? You can sign up again at any time.",
        "preferences_title": "Your preferences",
        "preferences_intro": "What {address} receives from {organisation}.",
        "save": "Save my preferences",
        "saved": "Your preferences are saved.",
        "unsubscribe_all": "Unsubscribe from every email",
        "not_subscribed_title": "Not subscribed",
        "not_subscribed_body": "{address} is not subscribed to our press releases.",
        "bad_link_title": "This link does not work",
        "bad_link_tampered": (
            "It may have been cut short or changed when it was copied. Please open the link "
            "exactly as it is in the email."
        ),
        "bad_link_expired_title": "This link has expired",
        "bad_link_expired": (
            "Confirmation links work for 48 hours. Please sign up again to get a new one."
        ),
        "bad_link_wrong_title": "This link is for something else",
        "bad_link_wrong": ("Please use the link from the email that matches what you want to do."),
        "forbidden_title": "Please send the form again",
        "forbidden_body": (
            "For your security, this form only works from our own page and for a limited "
            "time. Open the page again, then send the form."
        ),
        "too_many_title": "Too many attempts",
        "too_many_body": "Please wait {minutes} and try again.",
        "not_sent_title": "We could not send the email",
        "not_sent_body": "Our mail server is not answering. Please try again in a few minutes.",
        "refused_title": "This address cannot receive our email",
        "refused_body": "The mail server of {address} refused our message. Please check it.",
        "unavailable_title": "Back soon",
        "unavailable_body": "This service is briefly unavailable. Please try again shortly.",
        "not_found_title": "Page not found",
        "not_found_body": "There is nothing at this address.",
        "bad_request_title": "This request cannot be handled",
        "bad_request_body": "Please go back and try again.",
        "back_to_form": "Back to the sign-up form",
        # the newsroom (publisher.web.newsroom)
        "newsroom": "Newsroom",
        "signin_title": "Sign in to the newsroom",
        "signin_intro": (
            "For {organisation}'s press office. Your administrator gives you an account."
        ),
        "field_username": "User name",
        "field_password": "Password",
        "signin_button": "Sign in",
        "signin_wrong": "The user name or the password is not right. Please try again.",
        "signin_too_many": "Too many attempts to sign in. Please wait {minutes} and try again.",
        "signin_form_expired": (
            "For your security, this form works only from our own page and for a limited "
            "time. Please sign in again."
        ),
        "signed_out": "You are signed out.",
        "signed_in_as": "Signed in as {name}, {role}.",
        "role_officer": "media officer",
        "role_editor": "editor",
        "role_admin": "administrator",
        "newsroom_soon": (
            "Writing, previewing, approving and following press releases will be here."
        ),
        "signout_button": "Sign out",
        "keep_language": "Always show the newsroom in English",
        "not_allowed_title": "Not allowed",
        "not_allowed_body": (
            "Your role, {role}, does not allow this. Ask an administrator if you need it."
        ),
        "back_to_newsroom": "Back to the newsroom",
        "users_title": "Users",
        "users_none": "There are no users yet.",
        "column_name": "Name",
        "column_role": "Role",
        "column_state": "State",
        "column_since": "Since",
        "state_active": "active",
        "state_disabled": "disabled",
    },
    "ar": {
        "skip": "الانتقال إلى المحتوى",
        "switch_language": "اللغة",
        "optional": "اختياري",
        "subscribe_title": "البيانات الصحفية عبر البريد الإلكتروني",
        "subscribe_intro": (
            "للصحفيين والمحررين: تصلكم البيانات الصحفية الصادرة عن {organisation} فور نشرها، "
            "أو في موجز واحد كل يوم. سنرسل إليكم أولاً رسالة لتأكيد عنوان بريدكم."
        ),
        "field_email": "البريد الإلكتروني",
        "field_name": "الاسم",
        "field_outlet": "المؤسسة الإعلامية",
        "field_outlet_hint": "الصحيفة أو الوكالة أو البرنامج الذي تعملون فيه.",
        "field_language": "لغة البيانات",
        "field_beats": "المواضيع",
        "field_beats_hint": "إن لم تختاروا شيئاً تصلكم المواضيع كلها.",
        "no_beats_yet": "جميع المواضيع، إذ لم يُنشر أيّ منها بعد.",
        "field_cadence": "وتيرة الإرسال",
        "cadence_instant": "كل بيان فور صدوره",
        "cadence_daily": "موجز يومي واحد",
        "cadence_both": "الاثنان معاً",
        "sign_up": "اشتراك",
        "privacy": (
            "لا نستخدم عنوانكم إلا لنرسل إليكم ما طلبتموه، وفي كل رسالة رابط لتعديل "
            "اختياراتكم أو لإلغاء الاشتراك."
        ),
        "error_summary": "يرجى مراجعة النموذج:",
        "error_email": "أدخلوا عنوان بريد إلكتروني صحيحاً، مثل name@example.org.",
        "error_language": "اختاروا إحدى اللغتين.",
        "error_beats": "اختاروا المواضيع من القائمة.",
        "error_cadence": "اختاروا وتيرة وصول الرسائل إليكم.",
        "error_name": "يرجى ألّا يتجاوز النص ٢٠٠ حرف.",
        "error_outlet": "يرجى ألّا يتجاوز النص ٢٠٠ حرف.",
        "sent_title": "تفقّدوا بريدكم الوارد",
        "sent_body": (
            "أرسلنا إلى {address} رسالة فيها رابط لتأكيد اشتراككم، ولن نرسل إليكم شيئاً آخر "
            "قبل التأكيد."
        ),
        "sent_expiry": (
            "الرابط صالح لمدة ٤٨ ساعة. لم تصلكم الرسالة؟ ابحثوا عنها في مجلد الرسائل غير "
            "المرغوب فيها."
        ),
        "confirm_title": "تأكيد الاشتراك",
        "confirm_body": (
            "بقيت خطوة واحدة: اضغطوا الزر لتبدأ البيانات الصحفية الصادرة عن {organisation} "
            "بالوصول إلى {address}."
        ),
        "confirm_button": "تأكيد الاشتراك",
        "confirmed_title": "تمّ الاشتراك",
        "confirmed_body": "ستصل البيانات الصحفية الصادرة عن {organisation} من الآن إلى {address}.",
        "confirmed_again_title": "الاشتراك مؤكَّد",
        "confirmed_again_body": "العنوان {address} مشترك بالفعل، ولا حاجة إلى أي خطوة أخرى.",
        "manage": "يمكنكم تغيير اللغة أو المواضيع أو وتيرة الإرسال في أي وقت.",
        "manage_link": "إدارة تفضيلاتكم",
        "nothing_title": "لا يوجد ما يحتاج إلى تأكيد",
        "nothing_body": (
            "استُخدم طلب الاشتراك هذا من قبل أو لم يعد قائماً. للاشتراك، يرجى ملء النموذج من جديد."
        ),
        "sign_up_again": "الاشتراك من جديد",
        "unsubscribe_title": "إلغاء الاشتراك",
        "unsubscribe_body": "اضغطوا الزر لإيقاف جميع رسائل {organisation} إلى {address}.",
        "unsubscribe_button": "إلغاء الاشتراك",
        "unsubscribe_instead": "أو عدّلوا ما يصلكم بدلاً من ذلك",
        "unsubscribed_title": "تمّ إلغاء اشتراككم",
        "unsubscribed_body": "لن تصل منّا بعد الآن أي رسالة إلى {address}.",
        "changed_mind": "غيّرتم رأيكم؟ يمكنكم الاشتراك من جديد في أي وقت.",
        "preferences_title": "تفضيلاتكم",
        "preferences_intro": "ما يصل إلى {address} من {organisation}.",
        "save": "حفظ التفضيلات",
        "saved": "تمّ حفظ تفضيلاتكم.",
        "unsubscribe_all": "إلغاء الاشتراك في جميع الرسائل",
        "not_subscribed_title": "هذا العنوان غير مشترك",
        "not_subscribed_body": "العنوان {address} غير مشترك في بياناتنا الصحفية.",
        "bad_link_title": "هذا الرابط لا يعمل",
        "bad_link_tampered": (
            "ربما نُسخ ناقصاً أو تغيّر أثناء النسخ. يرجى فتح الرابط كما هو في الرسالة تماماً."
        ),
        "bad_link_expired_title": "انتهت صلاحية هذا الرابط",
        "bad_link_expired": (
            "روابط التأكيد صالحة لمدة ٤٨ ساعة. يرجى الاشتراك من جديد للحصول على رابط جديد."
        ),
        "bad_link_wrong_title": "هذا الرابط مخصّص لغرض آخر",
        "bad_link_wrong": "يرجى استخدام الرابط الوارد في الرسالة التي تناسب ما تريدون القيام به.",
        "forbidden_title": "يرجى إرسال النموذج مرة أخرى",
        "forbidden_body": (
            "حرصاً على أمانكم، لا يعمل هذا النموذج إلا من صفحتنا ولمدة محدودة. افتحوا الصفحة "
            "من جديد ثم أرسلوا النموذج."
        ),
        "too_many_title": "محاولات كثيرة",
        "too_many_body": "يرجى الانتظار {minutes} ثم المحاولة مجدداً.",
        "not_sent_title": "تعذّر إرسال الرسالة",
        "not_sent_body": "خادم البريد لا يستجيب حالياً. يرجى المحاولة مجدداً بعد بضع دقائق.",
        "refused_title": "لا يمكن لهذا العنوان استلام رسائلنا",
        "refused_body": "رفض خادم البريد الخاص بالعنوان {address} رسالتنا. يرجى التحقق منه.",
        "unavailable_title": "نعود قريباً",
        "unavailable_body": "الخدمة متوقفة لوقت قصير. يرجى المحاولة مجدداً بعد قليل.",
        "not_found_title": "الصفحة غير موجودة",
        "not_found_body": "لا يوجد شيء على هذا العنوان.",
        "bad_request_title": "تعذّر تنفيذ هذا الطلب",
        "bad_request_body": "يرجى الرجوع والمحاولة مجدداً.",
        "back_to_form": "العودة إلى نموذج الاشتراك",
        # غرفة الأخبار (publisher.web.newsroom)
        "newsroom": "غرفة الأخبار",
        "signin_title": "تسجيل الدخول إلى غرفة الأخبار",
        "signin_intro": "للمكتب الإعلامي في {organisation}. يمنحكم المسؤول عن النظام حساباً.",
        "field_username": "اسم المستخدم",
        "field_password": "كلمة المرور",
        "signin_button": "دخول",
        "signin_wrong": "اسم المستخدم أو كلمة المرور غير صحيح. يرجى المحاولة مجدداً.",
        "signin_too_many": "محاولات دخول كثيرة. يرجى الانتظار {minutes} ثم المحاولة مجدداً.",
        "signin_form_expired": (
            "حرصاً على أمانكم، لا يعمل هذا النموذج إلا من صفحتنا ولمدة محدودة. يرجى تسجيل "
            "الدخول من جديد."
        ),
        "signed_out": "تمّ تسجيل خروجكم.",
        "signed_in_as": "أنتم مسجَّلون باسم {name}، بصفة {role}.",
        "role_officer": "مسؤول إعلامي",
        "role_editor": "محرّر",
        "role_admin": "مدير النظام",
        "newsroom_soon": "هنا ستُكتب البيانات الصحفية وتُعاين وتُعتمد وتُتابع.",
        "signout_button": "تسجيل الخروج",
        "keep_language": "اعرض غرفة الأخبار بالعربية دائمًا",
        "not_allowed_title": "غير مسموح",
        "not_allowed_body": (
            "صفتكم ({role}) لا تسمح بهذا. اطلبوا ذلك من مدير النظام إن كنتم بحاجة إليه."
        ),
        "back_to_newsroom": "العودة إلى غرفة الأخبار",
        "users_title": "المستخدمون",
        "users_none": "لا يوجد مستخدمون بعد.",
        "column_name": "الاسم",
        "column_role": "الصفة",
        "column_state": "الحالة",
        "column_since": "منذ",
        "state_active": "فعّال",
        "state_disabled": "معطَّل",
    },
}


def _merge(*parts: dict[str, dict[str, str]]) -> None:
    """Add the words of the newsroom's pages (one module each) to WORDS; a word named twice,
    or missing in a language, is a mistake caught at import."""
    for part in parts:
        for language in LANGUAGES:
            clash = WORDS[language].keys() & part[language].keys()
            if clash:
                raise RuntimeError(f"words named twice: {sorted(clash)}")
            WORDS[language].update(part[language])
    missing = WORDS["en"].keys() ^ WORDS["ar"].keys()
    if missing:
        raise RuntimeError(f"words missing in a language: {sorted(missing)}")


from publisher.web.words_compose import WORDS as _COMPOSE  # noqa: E402
from publisher.web.words_releases import WORDS as _RELEASES  # noqa: E402

_merge(_COMPOSE, _RELEASES)

ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def words(language: str) -> dict[str, str]:
    """The words of a page in `language` (English when there are none)."""
    return WORDS.get(language, WORDS["en"])


def direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def minutes(count: int, language: str) -> str:
    """ "3 minutes" / "٣ دقائق", with Arabic's number agreement."""
    if language == "ar":
        if count <= 1:
            return "دقيقة واحدة"
        if count == 2:
            return "دقيقتين"
        digits = str(count).translate(ARABIC_DIGITS)
        return f"{digits} دقائق" if count <= 10 else f"{digits} دقيقة"
    return "1 minute" if count <= 1 else f"{count} minutes"


def supported(tag: str | None) -> str | None:
    """The page language for a language tag ("ar-SY" -> "ar"), or None if we have none."""
    primary = (tag or "").split("-")[0].split("_")[0].strip().lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best of our languages by an Accept-Language header (q-values honoured)."""
    best: tuple[float, str] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = supported(tag)
        if language and quality > 0:
            rank = (quality - position * 1e-6, language)  # ties: the first listed wins
            if best is None or rank > best:
                best = rank
    return best[1] if best else None


def pick(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first candidate we have words for, else the browser's choice, else English."""
    for candidate in candidates:
        language = supported(candidate)
        if language:
            return language
    return from_accept_language(accept_language) or LANGUAGES[0]
