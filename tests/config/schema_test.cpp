// config/corostorm.schema.json against the validator itself. Nothing here lists keys,
// values or ranges: the test walks the schema and asks the validator about each thing it
// finds, reading the answer from the validator's own messages, whose lists ("allowed:
// ...", "must be one of ...") and ranges ("must be between 1ms and 1d") are built from
// the same tables the checks use. So a key, kind, enum value or range added to the
// validator and not to the schema (or the other way round) fails here.
//
// For every map in the schema (the top level, each section, a stage, each workload kind):
//   - it is closed (additionalProperties: false), or closed by conditional parts, one for
//     each value of the key they test (a workload's kind);
//   - an unknown key is refused, and the validator's "allowed:" list is exactly the
//     schema's properties; the keys the validator says are missing are the required ones;
// for every key in it:
//   - its default (or first example) loads, and a default loads as the key left out;
//   - a value outside every enum gets "must be one of" exactly the schema's enum;
//   - a negative value gets the validator's range, which the description states as
//     "LO .. HI" and an integer branch (if any) as minimum and maximum;
//   - values written with units (1k, 1s, 1KiB, 10%, auto, ...) are accepted by the
//     schema exactly when the validator reads them;
// and every list's minItems and maxItems are the validator's. Separately, the patterns of
// the count, duration and size definitions take what parse_count, parse_duration and
// parse_size read.
// python3-jsonschema checks the same schema against the config corpus (schema_test.py).
#include <gmock/gmock.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::config {
namespace {

using json = nlohmann::ordered_json;
using pointer = json::json_pointer;
using ::testing::HasSubstr;

json read_schema() {
    std::ifstream in(COROSTORM_CONFIG_SCHEMA);
    return json::parse(in);
}

// The validator's message for a document (JSON is YAML), or nullopt when it loads.
std::optional<std::string> error_of(const json& doc) {
    try {
        load_string(doc.dump());
    } catch (const config_error& e) {
        return e.what();
    }
    return std::nullopt;
}

// "a, b, c" -> {a, b, c}
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        const std::size_t comma = text.find(", ", at);
        out.push_back(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) {
            break;
        }
        at = comma + 2;
    }
    return out;
}

// The text after `marker` up to ", got" or the end, split as a list.
std::optional<std::vector<std::string>> list_after(const std::string& message, const std::string& marker) {
    const std::size_t at = message.find(marker);
    if (at == std::string::npos) {
        return std::nullopt;
    }
    std::string rest = message.substr(at + marker.size());
    rest = rest.substr(0, rest.find(", got "));
    return split_list(rest);
}

// A message without its ", got VALUE".
std::string without_value(const std::string& message) { return message.substr(0, message.rfind(", got ")); }

std::vector<std::string> keys_of(const json& object) {
    std::vector<std::string> out;
    for (const auto& [key, value] : object.items()) {
        out.push_back(key);
    }
    return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// A count or a size as the validator writes it in a range, as a number.
std::optional<double> number_of(const std::string& text) {
    if (const auto n = parse_count(text)) {
        return static_cast<double>(*n);
    }
    if (const auto n = parse_size(text)) {
        return static_cast<double>(*n);
    }
    return std::nullopt;
}

struct range {
    std::string lo;
    std::string hi;
    bool lo_excluded = false;
};

// "must be between 0 and 1024", "a size from 64MiB to 16777215TiB",
// "greater than 0 and at most 1000000".
std::optional<range> range_in(const std::string& message) {
    static const std::regex inclusive("(?:between|from) ([^ ,]+) (?:and|to) ([^ ,]+)");
    static const std::regex exclusive("greater than ([^ ,]+) and at most ([^ ,]+)");
    std::smatch m;
    if (std::regex_search(message, m, exclusive)) {
        return range{m[1], m[2], true};
    }
    if (std::regex_search(message, m, inclusive)) {
        return range{m[1], m[2], false};
    }
    return std::nullopt;
}

// A schema's "type" when it is one word; "" when absent or a list of types.
std::string type_of(const json& s) {
    return s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
}

bool full_match(const std::string& pattern, const std::string& text) {
    return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
}

class schema_walk {
public:
    explicit schema_walk(json root) : root_(std::move(root)) {}

    // Walks the map at `at` in `doc`, described by `node`.
    // `inherited`: keys an enclosing schema requires (a workload's name, for each kind).
    void object(json doc, const pointer& at, const std::string& path, const json& node,
                const std::vector<std::string>& inherited = {}) {
        const json s = resolved(node);
        SCOPED_TRACE("schema for " + (path.empty() ? std::string("the top level") : path));
        ASSERT_TRUE(s.contains("properties"));
        const json& properties = s["properties"];
        std::vector<std::string> required = s.value("required", std::vector<std::string>{});
        required.insert(required.end(), inherited.begin(), inherited.end());
        for (const std::string& key : required) {
            ASSERT_TRUE(properties.contains(key)) << key;
            if (!doc.at(at).contains(key)) {
                doc[at / key] = sample(properties[key]);
            }
        }
        ASSERT_EQ(error_of(doc), std::nullopt) << doc.dump();

        const bool closed = s.contains("additionalProperties") && s["additionalProperties"] == false;
        if (closed) {
            unknown_key(doc, at, path, properties);
        }
        for (const auto& [key, property] : properties.items()) {
            const bool is_required = std::find(required.begin(), required.end(), key) != required.end();
            missing(doc, at, path, key, is_required);
            member(doc, at / key, (path.empty() ? "" : path + ".") + key, property, is_required);
        }
        // Conditional parts: `if: {properties: {K: {const: V}}}, then: {...}`, one for each
        // value of K's enum (which leaf() checks against the validator).
        std::map<std::string, json> conditions;
        for (const json& part : s.value("allOf", json::array())) {
            if (!part.contains("if")) {
                continue;
            }
            const json& tested = part["if"]["properties"];
            ASSERT_EQ(tested.size(), 1U) << part.dump();
            const std::string key = tested.begin().key();
            const json& condition = tested.begin().value();
            conditions[key].push_back(condition["const"]);
            json variant = doc;
            variant[at / key] = condition["const"];
            object(variant, at, path + " (" + key + ": " + condition["const"].get<std::string>() + ")",
                   part["then"], required);
        }
        for (const auto& [key, values] : conditions) {
            EXPECT_EQ(values, resolved(properties[key]).value("enum", json::array()))
                << "a conditional part for each value of " << key;
        }
        // Only a map whose conditional parts close it may stay open itself.
        EXPECT_TRUE(closed || !conditions.empty()) << "additionalProperties: false is missing";
    }

private:
    // Follows $ref, and unwraps allOf: [{$ref}] (draft-07 ignores keywords beside $ref);
    // the node's own keywords win.
    json resolved(const json& node) const {
        json out = json::object();
        if (node.contains("$ref")) {
            out = resolved(root_.at(pointer(node["$ref"].get<std::string>().substr(1))));
        }
        bool unwrapped = false;
        if (node.contains("allOf") &&
            std::all_of(node["allOf"].begin(), node["allOf"].end(),
                        [](const json& p) { return p.size() == 1 && p.contains("$ref"); })) {
            for (const json& part : node["allOf"]) {
                out.update(resolved(part));
            }
            unwrapped = true;
        }
        for (const auto& [key, value] : node.items()) {
            if (key != "$ref" && !(key == "allOf" && unwrapped)) {
                out[key] = value;
            }
        }
        return out;
    }

    json sample(const json& node) const {
        const json s = resolved(node);
        if (s.contains("default")) {
            return s["default"];
        }
        if (s.contains("examples")) {
            return s["examples"][0];
        }
        ADD_FAILURE() << "no default or examples in " << s.dump();
        return nullptr;
    }

    // The alternatives of a value: itself, or the branches of its anyOf.
    std::vector<json> branches(const json& s) const {
        std::vector<json> out{s};
        for (const json& b : s.value("anyOf", json::array())) {
            out.push_back(resolved(b));
        }
        return out;
    }

    static bool is_numeric(const json& s) { return type_of(s) == "integer" || type_of(s) == "number"; }

    // Whether the schema takes the string `text` for the value `s`.
    bool takes_string(const json& s, const std::string& text) const {
        for (const json& b : branches(s)) {
            if (b.contains("enum")) {
                for (const json& v : b["enum"]) {
                    if (v == text) {
                        return true;
                    }
                }
            }
            if (type_of(b) == "string" && full_match(b.value("pattern", ""), text)) {
                return true;
            }
        }
        return false;
    }

    void unknown_key(const json& doc, const pointer& at, const std::string& path, const json& properties) {
        constexpr const char* probe = "zz_not_a_key";
        json bad = doc;
        bad[at / probe] = 1;
        const auto message = error_of(bad);
        ASSERT_TRUE(message) << "the validator takes an unknown key: " << bad.dump();
        EXPECT_THAT(*message, HasSubstr((path.empty() ? "" : path.substr(0, path.find(" (")) + ".") + probe));
        const auto allowed = list_after(*message, "allowed: ");
        ASSERT_TRUE(allowed) << *message;
        EXPECT_EQ(as_set(*allowed), as_set(keys_of(properties)))
            << "the validator's keys (left) against the schema's (right); " << *message;
    }

    void missing(json doc, const pointer& at, const std::string& path, const std::string& key,
                 bool is_required) {
        if (!doc.at(at).contains(key)) {
            return;
        }
        doc[at].erase(key);
        const auto message = error_of(doc);
        if (is_required) {
            EXPECT_TRUE(message && message->find("is missing") != std::string::npos)
                << path << "." << key
                << " is required in the schema; the validator says: " << message.value_or("(loads)");
        } else {
            EXPECT_EQ(message, std::nullopt) << path << "." << key;
        }
    }

    void member(const json& doc, const pointer& at, const std::string& path, const json& node,
                bool is_required) {
        const json s = resolved(node);
        SCOPED_TRACE(path);
        if (s.contains("properties")) {
            json inner = doc;
            inner[at] = json::object();
            object(inner, at, path, node);
            return;
        }
        if (type_of(s) == "array") {
            list(doc, at, path, s);
            return;
        }
        leaf(doc, at, s, is_required);
    }

    void list(const json& doc, const pointer& at, const std::string& path, const json& s) {
        json empty = doc;
        empty[at] = json::array();
        const auto message = error_of(empty);
        ASSERT_TRUE(message) << "an empty list loads";
        static const std::regex sizes("must be a list of ([0-9]+) to ([0-9]+) ");
        std::smatch m;
        ASSERT_TRUE(std::regex_search(*message, m, sizes)) << *message;
        EXPECT_EQ(s.value("minItems", -1), std::stoi(m[1].str()));
        EXPECT_EQ(s.value("maxItems", -1), std::stoi(m[2].str()));
        if (s.contains("default")) {
            json with = doc;
            with[at] = s["default"];
            json without = doc;
            without[at.parent_pointer()].erase(at.back());
            EXPECT_TRUE(load_string(with.dump()) == load_string(without.dump()))
                << "default " << s["default"].dump() << " is not what the validator takes without the key";
        }
        json one = doc;
        one[at] = json::array({json::object()});
        object(one, at / std::size_t{0}, path + "[0]", s["items"]);
    }

    void leaf(const json& doc, const pointer& at, const json& s, bool is_required) {
        // The default (or an example) loads; a default is what the key left out gives.
        json with = doc;
        with[at] = sample(s);
        const auto message = error_of(with);
        EXPECT_EQ(message, std::nullopt) << with.dump();
        if (s.contains("default") && !is_required && !message) {
            json without = doc;
            without[at.parent_pointer()].erase(at.back());
            EXPECT_TRUE(load_string(with.dump()) == load_string(without.dump()))
                << "default " << s["default"].dump() << " is not what the validator takes without the key";
        }
        for (const json& b : branches(s)) {
            for (const json& v : b.value("enum", json::array())) {
                json each = doc;
                each[at] = v;
                EXPECT_EQ(error_of(each), std::nullopt) << v.dump();
            }
        }

        // Enums: the validator's list, in its order.
        json odd = doc;
        odd[at] = "zz not a value!";
        const std::string odd_message = error_of(odd).value_or("(loads)");
        if (const auto values = list_after(odd_message, "must be one of ")) {
            EXPECT_EQ(s.value("enum", json::array()), json(*values)) << odd_message;
        } else {
            EXPECT_FALSE(s.contains("enum")) << "the validator lists no values: " << odd_message;
        }
        if (odd_message.find("must be true or false") != std::string::npos) {
            EXPECT_EQ(type_of(s), "boolean");
        }

        // Ranges: a negative number is out of every range the validator has.
        std::optional<range> r;
        for (const char* negative : {"-1", "-1s"}) {
            json below = doc;
            below[at] = negative;
            if (const auto m = error_of(below); m && !r) {
                r = range_in(*m);
            }
        }
        std::vector<json> numeric;
        for (const json& b : branches(s)) {
            if (is_numeric(b)) {
                numeric.push_back(b);
            }
        }
        const std::string description = s.value("description", "");
        if (!r) {
            for (const json& b : numeric) {
                EXPECT_FALSE(b.contains("maximum"))
                    << "the validator states no range; the schema has " << b.dump();
            }
        } else {
            EXPECT_THAT(description, HasSubstr(r->lo + " .. " + r->hi)) << "the validator's range";
            const auto lo = number_of(r->lo);
            const auto hi = number_of(r->hi);
            if (lo && hi) {
                ASSERT_EQ(numeric.size(), 1U)
                    << "no integer or number for a range of " << r->lo << " .. " << r->hi;
                const json& b = numeric.front();
                EXPECT_EQ(b.value(r->lo_excluded ? "exclusiveMinimum" : "minimum", -1.0), *lo) << b.dump();
                EXPECT_EQ(b.value("maximum", -1.0), *hi) << b.dump();
            } else if (r->lo.ends_with('%')) {
                percent_pattern(s, *r);
            }
        }

        // Values with units, and the words auto and none: the schema takes a string the
        // validator reads (in range or not: the range of a unit is in the description).
        for (const char* text :
             {"1k", "1.5M", "1s", "250ms", "1KiB", "64B", "1GiB", "10%", "auto", "none", "lean"}) {
            json v = doc;
            v[at] = text;
            const auto m = error_of(v);
            // Read (in range or not, alone or with other keys): the validator's answer
            // is not the one a word gets.
            const bool validator_reads = !m || without_value(*m) != without_value(odd_message);
            EXPECT_EQ(takes_string(s, text), validator_reads)
                << "\"" << text << "\": schema (left) against the validator: " << m.value_or("(loads)");
        }
    }

    // A percentage branch's pattern takes exactly the percentages in the range.
    void percent_pattern(const json& s, const range& r) const {
        const auto lo = parse_percent(r.lo);
        const auto hi = parse_percent(r.hi);
        ASSERT_TRUE(lo && hi);
        int checked = 0;
        for (const json& b : branches(s)) {
            const std::string pattern = b.value("pattern", "");
            if (!pattern.ends_with("%$")) {
                continue;
            }
            for (const char* number :
                 {"0",  "00", "1",   "9",   "10",   "12.5", "50", "89", "89.99", "90", "90.0", "90.01",
                  "91", "99", "100", "900", "1000", "-1",   "1.", ".5", "1e1",   "5 ", "",     "0.0"}) {
                const std::string text = std::string(number) + "%";
                const auto v = parse_percent(text);
                EXPECT_EQ(full_match(pattern, text), v && *v >= *lo && *v <= *hi)
                    << text << " against " << pattern;
                ++checked;
            }
        }
        EXPECT_GT(checked, 0) << "no pattern for the percentages " << r.lo << " .. " << r.hi;
    }

    json root_;
};

// The top level's "allowed:" list leads to every section, and each section's to its keys,
// so the walk covers every map the validator has.
TEST(Schema, every_key_enum_range_and_default_is_the_validators) {
    const json schema = read_schema();
    schema_walk(schema).object(json::object(), pointer(), "", schema);
}

// The unit definitions' patterns take what the unit parsers read. The parsers also
// refuse a fraction that does not come out whole (1.5ns); a pattern cannot see that.
TEST(Schema, unit_patterns_take_what_the_unit_parsers_read) {
    const json schema = read_schema();
    struct grammar {
        const char* definition;
        bool (*reads)(const std::string&);
    };
    const grammar grammars[] = {
        {"count", [](const std::string& t) { return parse_count(t).has_value(); }},
        {"duration", [](const std::string& t) { return parse_duration(t).has_value(); }},
        {"size", [](const std::string& t) { return parse_size(t).has_value(); }},
    };
    const char* numbers[] = {"0",  "1",  "64", "007", "1.5", "1.25", "0.5", "1.",
                             ".5", "-1", "+1", "1e3", "1_0", " 1",   "1 ",  ""};
    const char* suffixes[] = {"",    "k",  "K",  "M",   "G",  "T",  "ns", "us", "ms",  "s",   "m",   "h",
                              "d",   "S",  "MS", "sec", "B",  "KB", "MB", "GB", "TB",  "KiB", "MiB", "GiB",
                              "TiB", "kb", "kB", "Ki",  "iB", "%",  " s", "s ", "mss", "x"};
    for (const grammar& g : grammars) {
        const std::string pattern = schema["definitions"][g.definition]["pattern"];
        int read = 0;
        for (const char* number : numbers) {
            for (const char* suffix : suffixes) {
                const std::string text = std::string(number) + suffix;
                const bool matches = full_match(pattern, text);
                const bool reads = g.reads(text);
                read += reads ? 1 : 0;
                if (reads) {
                    EXPECT_TRUE(matches) << g.definition << ": the parser reads \"" << text << "\", "
                                         << pattern << " does not take it";
                } else if (matches) {
                    EXPECT_NE(text.find('.'), std::string::npos)
                        << g.definition << ": " << pattern << " takes \"" << text
                        << "\", the parser does not";
                }
            }
        }
        EXPECT_GT(read, 10) << g.definition;
    }
}

}  // namespace
}  // namespace corostorm::config
