#ifndef ROOTED_TOOLS_TERM_DEMO_DIRECTORY_H_
#define ROOTED_TOOLS_TERM_DEMO_DIRECTORY_H_

#include <string>
#include <vector>

namespace rooted::term {

// One service in the demonstration council's directory.
struct DemoService {
  std::string id;
  std::string organization_id;
  std::string organization_name;
  std::string name;
  std::string description;
  std::vector<std::string> needs;  // rooted-needs taxonomy term ids
  int minimum_age;
  int maximum_age;
  int places;  // 0: no limit on places
  std::string postcode;
  double latitude;
  double longitude;
};

// The quality-assured services of a fictional council's pilot: charities,
// the council's own teams and the NHS, across the needs the early
// identification tool surfaces. Nothing in it is a real organisation.
const std::vector<DemoService>& DemoServices();

// The same services as an Open Referral UK JSON document (a page of
// services), the form councils exchange directories in.
std::string DemoDirectoryOpenReferralJson();

}  // namespace rooted::term

#endif  // ROOTED_TOOLS_TERM_DEMO_DIRECTORY_H_
