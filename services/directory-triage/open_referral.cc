#include "services/directory-triage/open_referral.h"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/proto_date.h"

namespace rooted::directory {
namespace {

using Json = nlohmann::json;
constexpr char kNeedsVocabulary[] = "rooted-needs";
constexpr char kExtension[] = "x_rooted";

std::string Text(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<double> Number(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  double value = 0;
  if (it->is_string() && absl::SimpleAtod(it->get<std::string>(), &value)) return value;
  return std::nullopt;
}

const Json& Array(const Json& object, const char* key) {
  static const Json kEmpty = Json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

int64_t Micro(double degrees) { return int64_t(std::llround(degrees * 1e6)); }
double Degrees(int64_t micro) { return double(micro) / 1e6; }

// "10:00:00" or "10:00" -> minutes after midnight.
std::optional<int> Minutes(const std::string& hhmm) {
  std::vector<std::string> parts = absl::StrSplit(hhmm, ':');
  int h = 0, m = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) ||
      h < 0 || h > 24 || m < 0 || m > 59) {
    return std::nullopt;
  }
  return h * 60 + m;
}

std::string Clock(int minutes) {
  return absl::StrCat(minutes / 60 < 10 ? "0" : "", minutes / 60, ":", minutes % 60 < 10 ? "0" : "",
                      minutes % 60, ":00");
}

std::optional<rooted::common::v1::Date> DateOf(const std::string& text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) return std::nullopt;
  return ToProtoDate(day);
}

std::string DateText(const rooted::common::v1::Date& date) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  return day.ok() ? absl::FormatCivilTime(*day) : "";
}

v1::QaStatus QaStatusOf(const std::string& text) {
  if (text == "approved") return v1::QA_STATUS_APPROVED;
  if (text == "suspended") return v1::QA_STATUS_SUSPENDED;
  if (text == "expired") return v1::QA_STATUS_EXPIRED;
  return v1::QA_STATUS_PENDING;
}

std::string QaStatusText(v1::QaStatus status) {
  switch (status) {
    case v1::QA_STATUS_APPROVED:
      return "approved";
    case v1::QA_STATUS_SUSPENDED:
      return "suspended";
    case v1::QA_STATUS_EXPIRED:
      return "expired";
    default:
      return "pending";
  }
}

const std::map<std::string, v1::Delivery>& Deliveries() {
  static const auto* kDeliveries = new std::map<std::string, v1::Delivery>{
      {"in_school", v1::DELIVERY_IN_SCHOOL},
      {"out_of_school", v1::DELIVERY_OUT_OF_SCHOOL},
      {"online", v1::DELIVERY_ONLINE}};
  return *kDeliveries;
}

void ReadOrganization(const Json& o, v1::Organization* out) {
  out->set_id(Text(o, "id"));
  out->set_name(Text(o, "name"));
  out->set_description(Text(o, "description"));
  out->set_website(Text(o, "website"));
  out->set_email(Text(o, "email"));
  if (auto it = o.find(kExtension); it != o.end() && it->is_object()) {
    const std::string partner = Text(*it, "partner_id");
    if (!partner.empty()) {
      out->mutable_ref()->set_type(rooted::common::v1::ORGANISATION_TYPE_PARTNER);
      out->mutable_ref()->set_id(partner);
    }
  }
}

void ReadExtension(const Json& x, v1::Service* s) {
  v1::Eligibility* e = s->mutable_eligibility();
  if (auto v = Number(x, "minimum_year_group")) e->set_minimum_year_group(int(*v));
  if (auto v = Number(x, "maximum_year_group")) e->set_maximum_year_group(int(*v));
  for (const Json& a : Array(x, "area_codes")) {
    if (a.is_string()) e->add_area_codes(a.get<std::string>());
  }
  for (const Json& d : Array(x, "delivery")) {
    if (!d.is_string()) continue;
    if (auto it = Deliveries().find(d.get<std::string>()); it != Deliveries().end()) {
      s->add_delivery(it->second);
    }
  }
  if (auto c = x.find("capacity"); c != x.end() && c->is_object()) {
    if (auto v = Number(*c, "available")) s->mutable_capacity()->set_available(int(*v));
    if (auto v = Number(*c, "maximum")) s->mutable_capacity()->set_maximum(int(*v));
    if (auto v = Number(*c, "waiting_time_days")) s->mutable_capacity()->set_waiting_time_days(int(*v));
  }
  if (auto q = x.find("quality"); q != x.end() && q->is_object()) {
    s->mutable_quality()->set_status(QaStatusOf(Text(*q, "status")));
    s->mutable_quality()->set_assessor_subject(Text(*q, "assessor"));
    if (auto d = DateOf(Text(*q, "review_date"))) *s->mutable_quality()->mutable_review_date() = *d;
  }
  s->set_referral_route(Text(x, "referral_route"));
}

absl::Status ReadService(const Json& j, v1::Service* s, v1::Organization* org) {
  if (!j.is_object()) return absl::InvalidArgumentError("is not an object");
  s->set_id(Text(j, "id"));
  if (s->id().empty()) return absl::InvalidArgumentError("id is missing");
  s->set_name(Text(j, "name"));
  s->set_description(Text(j, "description"));
  s->set_url(Text(j, "url"));
  s->set_email(Text(j, "email"));
  const std::string status = Text(j, "status");
  s->set_withdrawn(!status.empty() && status != "active");
  if (auto v = Number(j, "minimum_age")) s->mutable_eligibility()->set_minimum_age(int(*v));
  if (auto v = Number(j, "maximum_age")) s->mutable_eligibility()->set_maximum_age(int(*v));
  if (auto d = DateOf(Text(j, "assured_date"))) *s->mutable_quality()->mutable_assured_date() = *d;
  if (auto o = j.find("organization"); o != j.end() && o->is_object()) {
    ReadOrganization(*o, org);
  } else {
    org->set_id(Text(j, "organization_id"));
  }
  s->set_organization_id(org->id());
  for (const Json& sal : Array(j, "service_at_locations")) {
    auto l = sal.find("location");
    if (l == sal.end() || !l->is_object()) continue;
    v1::Location* loc = s->add_locations();
    loc->set_id(Text(*l, "id"));
    loc->set_name(Text(*l, "name"));
    if (auto v = Number(*l, "latitude")) loc->set_latitude_e6(Micro(*v));
    if (auto v = Number(*l, "longitude")) loc->set_longitude_e6(Micro(*v));
    for (const Json& a : Array(*l, "addresses")) {
      if (loc->postcode().empty()) loc->set_postcode(Text(a, "postal_code"));
    }
    if (auto x = l->find(kExtension); x != l->end() && x->is_object()) {
      loc->set_confidential(x->value("confidential", false));
    }
  }
  for (const Json& a : Array(j, "attributes")) {
    auto t = a.find("taxonomy_term");
    if (t == a.end() || !t->is_object()) continue;
    const std::string vocabulary = Text(*t, "vocabulary");
    const std::string code = Text(*t, "code").empty() ? Text(*t, "id") : Text(*t, "code");
    if ((vocabulary.empty() || vocabulary == kNeedsVocabulary) && !code.empty()) {
      s->add_taxonomy_term_ids(code);
    }
  }
  for (const Json& l : Array(j, "languages")) {
    std::string code = absl::AsciiStrToLower(Text(l, "code"));
    if (!code.empty()) s->add_languages(code);
  }
  for (const Json& c : Array(j, "cost_options")) {
    v1::CostOption* cost = s->add_cost_options();
    const std::optional<double> amount = Number(c, "amount");
    cost->set_free(!amount || *amount <= 0);
    if (amount && *amount > 0) {
      cost->mutable_amount()->set_pence(std::llround(*amount * 100));
      cost->mutable_amount()->set_currency("GBP");
    }
    cost->set_amount_description(Text(c, "amount_description"));
  }
  for (const Json& c : Array(j, "contacts")) {
    v1::Contact* contact = s->add_contacts();
    contact->set_name(Text(c, "name"));
    contact->set_title(Text(c, "title"));
    contact->set_email(Text(c, "email"));
    for (const Json& p : Array(c, "phones")) {
      if (contact->phone().empty()) contact->set_phone(Text(p, "number"));
    }
  }
  for (const Json& sc : Array(j, "schedules")) {
    v1::Schedule* schedule = s->add_schedules();
    std::string rrule;
    if (!Text(sc, "freq").empty()) rrule = absl::StrCat("FREQ=", Text(sc, "freq"));
    if (auto v = Number(sc, "interval"); v && !rrule.empty()) absl::StrAppend(&rrule, ";INTERVAL=", int(*v));
    if (!Text(sc, "byday").empty() && !rrule.empty()) absl::StrAppend(&rrule, ";BYDAY=", Text(sc, "byday"));
    schedule->set_rrule(rrule);
    schedule->set_opens_at_minute(Minutes(Text(sc, "opens_at")).value_or(0));
    schedule->set_closes_at_minute(Minutes(Text(sc, "closes_at")).value_or(0));
  }
  if (auto x = j.find(kExtension); x != j.end() && x->is_object()) ReadExtension(*x, s);
  // Sub-messages only where the document said something.
  if (s->eligibility().ByteSizeLong() == 0) s->clear_eligibility();
  if (s->capacity().ByteSizeLong() == 0) s->clear_capacity();
  if (s->quality().ByteSizeLong() == 0) s->clear_quality();
  return absl::OkStatus();
}

Json WriteService(const v1::Service& s, const v1::Organization* org) {
  Json j = {{"id", s.id()},
            {"name", s.name()},
            {"description", s.description()},
            {"status", s.withdrawn() ? "inactive" : "active"}};
  if (!s.url().empty()) j["url"] = s.url();
  if (!s.email().empty()) j["email"] = s.email();
  if (s.eligibility().minimum_age() > 0) j["minimum_age"] = s.eligibility().minimum_age();
  if (s.eligibility().maximum_age() > 0) j["maximum_age"] = s.eligibility().maximum_age();
  if (s.quality().has_assured_date()) j["assured_date"] = DateText(s.quality().assured_date());
  if (org != nullptr) {
    Json o = {{"id", org->id()}, {"name", org->name()}, {"description", org->description()}};
    if (!org->website().empty()) o["website"] = org->website();
    if (!org->email().empty()) o["email"] = org->email();
    if (org->ref().type() == rooted::common::v1::ORGANISATION_TYPE_PARTNER) {
      o[kExtension] = {{"partner_id", org->ref().id()}};
    }
    j["organization"] = o;
  }
  Json locations = Json::array();
  for (const v1::Location& l : s.locations()) {
    Json loc = {{"id", l.id()}, {"name", l.name()}};
    if (l.confidential()) {
      loc[kExtension] = {{"confidential", true}};
    } else {
      loc["latitude"] = Degrees(l.latitude_e6());
      loc["longitude"] = Degrees(l.longitude_e6());
      if (!l.postcode().empty()) {
        loc["addresses"] = Json::array({{{"postal_code", l.postcode()}, {"address_type", "physical"}, {"country", "GB"}}});
      }
    }
    locations.push_back({{"id", s.id() + ":" + l.id()}, {"location", loc}});
  }
  j["service_at_locations"] = locations;
  Json attributes = Json::array();
  for (const std::string& term : s.taxonomy_term_ids()) {
    attributes.push_back({{"link_type", "service"},
                          {"taxonomy_term", {{"id", term}, {"code", term}, {"vocabulary", kNeedsVocabulary}}}});
  }
  j["attributes"] = attributes;
  Json languages = Json::array();
  for (const std::string& code : s.languages()) languages.push_back({{"code", code}});
  j["languages"] = languages;
  Json costs = Json::array();
  for (const v1::CostOption& c : s.cost_options()) {
    Json cost = {{"amount", c.free() ? 0.0 : double(c.amount().pence()) / 100}};
    if (!c.amount_description().empty()) cost["amount_description"] = c.amount_description();
    costs.push_back(cost);
  }
  j["cost_options"] = costs;
  Json contacts = Json::array();
  for (const v1::Contact& c : s.contacts()) {
    Json contact = {{"name", c.name()}, {"title", c.title()}};
    if (!c.email().empty()) contact["email"] = c.email();
    if (!c.phone().empty()) contact["phones"] = Json::array({{{"number", c.phone()}}});
    contacts.push_back(contact);
  }
  j["contacts"] = contacts;
  Json schedules = Json::array();
  for (const v1::Schedule& sc : s.schedules()) {
    Json schedule = {{"opens_at", Clock(sc.opens_at_minute())}, {"closes_at", Clock(sc.closes_at_minute())}};
    for (absl::string_view part : absl::StrSplit(sc.rrule(), ';')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
      int interval = 0;
      if (kv.first == "FREQ") schedule["freq"] = kv.second;
      if (kv.first == "BYDAY") schedule["byday"] = kv.second;
      if (kv.first == "INTERVAL" && absl::SimpleAtoi(kv.second, &interval)) schedule["interval"] = interval;
    }
    schedules.push_back(schedule);
  }
  j["schedules"] = schedules;
  Json x = {{"minimum_year_group", s.eligibility().minimum_year_group()},
            {"maximum_year_group", s.eligibility().maximum_year_group()},
            {"area_codes", Json(std::vector<std::string>(s.eligibility().area_codes().begin(),
                                                         s.eligibility().area_codes().end()))},
            {"referral_route", s.referral_route()},
            {"capacity",
             {{"available", s.capacity().available()},
              {"maximum", s.capacity().maximum()},
              {"waiting_time_days", s.capacity().waiting_time_days()}}},
            {"quality",
             {{"status", QaStatusText(s.quality().status())},
              {"assessor", s.quality().assessor_subject()},
              {"review_date", DateText(s.quality().review_date())}}}};
  Json delivery = Json::array();
  for (int d : s.delivery()) {
    for (const auto& [name, value] : Deliveries()) {
      if (value == d) delivery.push_back(name);
    }
  }
  x["delivery"] = delivery;
  j[kExtension] = x;
  return j;
}

}  // namespace

absl::StatusOr<OpenReferralImport> ParseOpenReferral(const std::string& text) {
  Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return absl::InvalidArgumentError("json: not valid JSON");
  const Json* services = &document;
  Json single;
  if (document.is_object()) {
    if (auto it = document.find("contents"); it != document.end() && it->is_array()) {
      services = &*it;
    } else {
      single = Json::array({document});
      services = &single;
    }
  }
  if (!services->is_array()) {
    return absl::InvalidArgumentError("json: expected a service, an array of services or {\"contents\": [...]}");
  }
  OpenReferralImport out;
  std::map<std::string, size_t> organization_at;
  for (size_t i = 0; i < services->size(); ++i) {
    v1::Service service;
    v1::Organization organization;
    absl::Status read = ReadService((*services)[i], &service, &organization);
    if (!read.ok()) {
      out.problems.push_back(absl::StrCat("services[", i, "]: ", read.message()));
      continue;
    }
    if (!organization.id().empty() && !organization.name().empty() &&
        organization_at.emplace(organization.id(), out.organizations.size()).second) {
      out.organizations.push_back(std::move(organization));
    }
    out.services.push_back(std::move(service));
  }
  return out;
}

std::string ExportOpenReferral(const std::vector<v1::Service>& services,
                               const std::vector<v1::Organization>& organizations) {
  std::map<std::string, const v1::Organization*> by_id;
  for (const v1::Organization& o : organizations) by_id[o.id()] = &o;
  Json out = Json::array();
  for (const v1::Service& s : services) {
    auto it = by_id.find(s.organization_id());
    out.push_back(WriteService(s, it == by_id.end() ? nullptr : it->second));
  }
  return out.dump(2);
}

}  // namespace rooted::directory
