#include "tools/term/demo_directory.h"

#include <nlohmann/json.hpp>

namespace rooted::term {

const std::vector<DemoService>& DemoServices() {
  static const auto* services = new std::vector<DemoService>{
      {"svc-attend-mentors", "org-north-youth-trust", "North Youth Trust", "Attend: school mentors",
       "Weekly one-to-one mentoring in school for pupils whose attendance is slipping.",
       {"attendance-engagement", "mentoring"}, 11, 16, 30, "NT1 2AB", 54.9781, -1.6174},
      {"svc-calm-minds", "org-north-youth-trust", "North Youth Trust", "Calm Minds counselling",
       "Counselling for young people with anxiety, low mood or worries about school.",
       {"anxiety-emotional-wellbeing", "semh"}, 11, 18, 20, "NT2 4CD", 54.9702, -1.6011},
      {"svc-fresh-start", "org-council-inclusion", "Council Inclusion Team", "Fresh Start behaviour support",
       "Behaviour support and restorative work in school after suspensions.",
       {"behaviour", "semh"}, 11, 16, 25, "NT1 1AA", 54.9738, -1.6132},
      {"svc-family-link", "org-council-early-help", "Council Early Help", "Family Link early help",
       "Family support workers who help parents get children to school and keep them there.",
       {"family-support", "parenting", "attendance-engagement"}, 5, 18, 40, "NT3 6EF", 54.9655, -1.5897},
      {"svc-young-carers", "org-carers-network", "Carers Network", "Young Carers Club",
       "Breaks, peer groups and school liaison for young carers.",
       {"young-carers", "family-support"}, 8, 18, 0, "NT2 7GH", 54.9811, -1.5833},
      {"svc-kit-bank", "org-community-trust", "Community Trust", "Uniform and kit bank",
       "School uniform, shoes, PE kit and laptops for families on low incomes.",
       {"financial-hardship"}, 4, 18, 0, "NT4 1JK", 54.9588, -1.6267},
      {"svc-youth-hub", "org-north-youth-trust", "North Youth Trust", "Friday youth hub",
       "Open-access youth work, sport and music on Friday evenings.",
       {"youth-work", "mentoring"}, 11, 19, 60, "NT1 3LM", 54.9763, -1.6092},
      {"svc-safe-routes", "org-council-youth-justice", "Council Youth Justice", "Safe Routes",
       "Specialist workers for young people at risk of exploitation.",
       {"exploitation-risk", "substance-misuse"}, 10, 18, 12, "NT5 2NP", 54.9551, -1.5954},
      {"svc-talk-together", "org-nhs-north", "NHS North", "Talk Together speech and language",
       "Speech, language and communication assessment and therapy.",
       {"speech-language", "send-learning"}, 4, 16, 15, "NT2 9QR", 54.9689, -1.6199},
      {"svc-rainbows", "org-carers-network", "Carers Network", "Rainbows bereavement groups",
       "Peer support for children and young people who have lost someone close.",
       {"bereavement", "anxiety-emotional-wellbeing"}, 6, 18, 16, "NT3 8ST", 54.9627, -1.6043},
  };
  return *services;
}

std::string DemoDirectoryOpenReferralJson() {
  nlohmann::json contents = nlohmann::json::array();
  for (const DemoService& s : DemoServices()) {
    nlohmann::json attributes = nlohmann::json::array();
    for (const std::string& need : s.needs) {
      attributes.push_back({{"id", s.id + "-" + need},
                            {"link_type", "service"},
                            {"taxonomy_term", {{"id", need}, {"code", need}, {"vocabulary", "rooted-needs"}}}});
    }
    contents.push_back({
        {"id", s.id},
        {"name", s.name},
        {"description", s.description},
        {"status", "active"},
        {"minimum_age", s.minimum_age},
        {"maximum_age", s.maximum_age},
        {"organization", {{"id", s.organization_id}, {"name", s.organization_name}}},
        {"service_at_locations",
         {{{"id", s.id + "-at-base"},
           {"location",
            {{"id", s.id + "-base"},
             {"name", s.name},
             {"latitude", s.latitude},
             {"longitude", s.longitude},
             {"addresses",
              {{{"id", s.id + "-address"}, {"postal_code", s.postcode}, {"country", "GB"},
                {"address_type", "physical"}}}}}}}}},
        {"attributes", attributes},
        {"cost_options", {{{"id", s.id + "-cost"}, {"amount", 0}, {"amount_description", "Free"}}}},
    });
  }
  const size_t n = contents.size();
  return nlohmann::json{{"total_items", n}, {"total_pages", 1}, {"page_number", 1}, {"size", n},
                        {"first_page", true}, {"last_page", true}, {"empty", n == 0},
                        {"contents", contents}}
      .dump();
}

}  // namespace rooted::term
