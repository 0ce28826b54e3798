/* Word tables for generated accounts (see gen_words.h). */
#include "gen_words.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct gen_person gen_people[] = {
	{"José", "Müller", "jose.mueller@example.org", "Müller & Söhne GmbH", "+49 30 1234567", "Berlin"},
	{"Zoë", "Ångström", "zoe.angstrom@example.se", "Nordljus AB", "+46 8 555 0101", "Göteborg"},
	{"Łukasz", "Żółkiewski", "lukasz.z@example.pl", "Wisła Sp. z o.o.", "+48 22 555 0102", "Kraków"},
	{"Ольга", "Иванова", "olga.ivanova@example.ru", "ООО Север", "+7 495 555-01-03", "Москва"},
	{"李", "雷", "li.lei@example.cn", "北京科技有限公司", "+86 10 5550 0104", "北京"},
	{"さくら", "山田", "sakura.yamada@example.jp", "株式会社ヤマダ", "+81 3-5550-0105", "東京"},
	{"Françoise", "Dupont", "f.dupont@example.fr", "Café Crème SARL", "+33 1 55 50 01 06", "Besançon"},
	{"Γιώργος", "Παπαδόπουλος", "g.papadopoulos@example.gr", "Ακρόπολις ΑΕ", "+30 21 0555 0107", "Αθήνα"},
	{"Ayşe", "Yılmaz", "ayse.yilmaz@example.com.tr", "Boğaziçi Ltd.", "+90 212 555 0108", "İstanbul"},
	{"Nguyễn", "Văn An", "an.nguyen@example.vn", "Công ty Sông Hồng", "+84 24 5550 0109", "Hà Nội"},
	{"Søren", "Kierkegaard", "soren.k@example.dk", "Hygge ApS", "+45 33 55 01 10", "København"},
	{"Jiří", "Dvořák", "jiri.dvorak@example.cz", "Pivovar Černá Hora s.r.o.", "+420 555 011 111", "Plzeň"},
	{"Anna", "Nováková", "anna.novakova@example.cz", "Kerio-like a.s.", "+420 555 011 112", "Brno"},
	{"María", "Núñez", "maria.nunez@example.es", "Peñón Servicios S.L.", "+34 91 555 0113", "Logroño"},
	{"João", "Gonçalves", "joao.goncalves@example.pt", "Açores Lda.", "+351 21 555 0114", "Évora"},
	{"Emma", "Smith", "emma.smith@example.com", "Acme Corp", "+1 415 555 0115", "San Francisco"},
	{"Oliver", "O'Brien", "oliver.obrien@example.ie", "Ceol Teo", "+353 1 555 0116", "Dún Laoghaire"},
	{"Priya", "Raghunathan", "priya.r@example.in", "Ganga Infotech", "+91 80 5550 0117", "Bengaluru"},
	{"Mohammed", "Al-Farsi", "m.alfarsi@example.ae", "شركة الخليج", "+971 4 555 0118", "دبي"},
	{"Noa", "Levi", "noa.levi@example.il", "חברת הדר", "+972 3 555 0119", "תל אביב"},
	{"Björn", "Þórsson", "bjorn.thorsson@example.is", "Eldfjall ehf.", "+354 555 0120", "Reykjavík"},
	{"Chloé", "Lefèvre", "chloe.lefevre@example.be", "Bruxelles Éditions", "+32 2 555 01 21", "Liège"},
	{"Hans", "Weiß", "hans.weiss@example.at", "Alpenglühen KG", "+43 1 555 0122", "Wien"},
	{"Minh", "Trần", "minh.tran@example.vn", "Sài Gòn Media", "+84 28 5550 0123", "Huế"},
	{"Kateřina", "Šťastná", "katerina.stastna@example.cz", "Šumava s.r.o.", "+420 555 011 124", "České Budějovice"},
	{"Ἀλέξανδρος", "Μακεδών", "alexandros@example.gr", "Πέλλα ΟΕ", "+30 23 1055 0125", "Θεσσαλονίκη"},
	{"Seo-yeon", "김", "seoyeon.kim@example.kr", "한빛 주식회사", "+82 2 555 0126", "서울"},
	{"Aleksandr", "Пушкин", "a.pushkin@example.ru", "Лицей", "+7 812 555-01-27", "Санкт-Петербург"},
	{"Fatima", "Zahra", "fatima.zahra@example.ma", "Atlas SARL", "+212 5 22 55 01 28", "Fès"},
	{"Lars", "Ødegård", "lars.odegard@example.no", "Fjord AS", "+47 22 55 01 29", "Tromsø"},
};
const size_t gen_npeople = N(gen_people);

const char *const gen_words[] = {
	"the", "report", "meeting", "budget", "please", "review", "attached", "schedule", "project",
	"deadline", "customer", "server", "release", "update", "thanks", "regards", "tomorrow",
	"Überprüfung", "Besprechung", "Zusammenfassung", "naïve", "déjà", "vu", "façade", "résumé",
	"coördinate", "smörgåsbord", "jalapeño", "piñata", "crème", "brûlée", "Straße", "Größe",
	"příliš", "žluťoučký", "kůň", "úpěl", "ďábelské", "ódy", "Москва", "отчёт", "встреча",
	"срочно", "東京", "会議", "資料", "確認", "お願いします", "报告", "明天", "谢谢", "Αθήνα",
	"σύσκεψη", "ευχαριστώ", "📎", "📅", "✅", "🚀", "☕", "€", "£", "½", "—", "“quoted”",
	"invoice", "contract", "draft", "final", "version", "agenda", "minutes", "quarter", "Q3",
	"forecast", "marketing", "engineering", "support", "ticket", "backup", "migration",
	"calendar", "offline", "sync", "folder", "attachment", "signature", "holiday", "travel",
	"and", "of", "to", "in", "for", "on", "with", "at", "by", "from", "we", "you", "it", "is",
	"are", "was", "will", "can", "should", "would", "this", "that", "these", "our", "your",
};
const size_t gen_nwords = N(gen_words);

const char *const gen_topics[] = {
	"Quarterly report Q3", "Überprüfung der Verträge", "Déjà-vu in the release plan",
	"Отчёт за месяц", "東京オフィスの会議", "下周的项目计划", "Προϋπολογισμός 2025",
	"Server migration weekend", "Café meeting ☕", "Launch 🚀 checklist", "Rozpočet na příští rok",
	"Budget approval", "Invoice #4711", "Holiday schedule 🎄", "Customer feedback — Acme",
	"Backup failed on nas-01", "Offline sync design review", "Année 2024 en revue",
	"Kontrakt för leverans", "Hội nghị khách hàng", "Año nuevo, proyecto nuevo",
	"Pivní festival v Plzni 🍺", "Signed contract (final v3)", "Agenda for Monday",
	"İstanbul trip itinerary", "Weekly status", "Incident 2024-03-14 post-mortem",
	"Naïve Bayes spam filter results", "Zúčtování služební cesty", "Smörgåsbord party planning",
};
const size_t gen_ntopics = N(gen_topics);

const char *const gen_subject_forms[] = {
	"%s", "%s", "%s", "FW: %s", "[ext] %s", "%s — please review", "Re: %s (follow-up)",
	"Wichtig: %s", "%s 📎", "URGENT: %s",
};
const size_t gen_nsubject_forms = N(gen_subject_forms);

const char *const gen_event_titles[] = {
	"Team-Meeting über Q3", "Café with Zoë ☕", "Обзор проекта", "週次ミーティング", "项目评审",
	"Sprint review 🚀", "1:1 with José", "Dentist", "Porada vedení", "Board meeting",
	"Yoga 🧘", "Lunch at Ångström's", "Customer call — Acme", "Release party 🎉",
	"Σύσκεψη ομάδας", "Réunion budgétaire", "Standup", "Training: offline sync",
};
const size_t gen_nevent_titles = N(gen_event_titles);

const char *const gen_places[] = {
	"Room 101", "Besprechungsraum „Zugspitze“", "Café Crème, Besançon", "会議室A",
	"Переговорная 3", "Online (Teams)", "Zasedačka č. 2", "Konferansrom Ødegård", "",
};
const size_t gen_nplaces = N(gen_places);

const char *const gen_task_titles[] = {
	"Prepare quarterly report", "Steuererklärung abgeben", "Réserver l'hôtel à Besançon",
	"Подготовить презентацию", "資料を送る", "Call José about the contract", "Renew TLS certificates",
	"Zaplatit fakturu", "Buy milk 🥛", "Review pull request #42", "Plan team offsite 🏕️",
};
const size_t gen_ntask_titles = N(gen_task_titles);

const struct gen_attachment_kind gen_attachment_kinds[] = {
	{"Bericht-Q3-Überblick.pdf", "application/pdf", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"},
	{"photo-東京.jpg", "image/jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00"},
	{"Rozpočet 2025.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "PK\x03\x04"},
	{"contract_final_v3.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PK\x03\x04"},
	{"notes.txt", "text/plain", "Notes\r\n"},
	{"архив.zip", "application/zip", "PK\x03\x04"},
	{"diagram.png", "image/png", "\x89PNG\r\n\x1a\n"},
};
const size_t gen_nattachment_kinds = N(gen_attachment_kinds);
