/* The broker's DNS mappings: what deploy registers so the resolver can name each agent. */
#include "dnsmap.h"

#include "buf.h"
#include "inventory.h"

#include <json-c/json.h>
#include <string.h>

static bool mapped(json_object *list, const char *address)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(list, i), *type, *id;
		if (json_object_object_get_ex(m, "ServerIdType", &type) && json_object_object_get_ex(m, "ServerId", &id) &&
		    json_object_is_type(type, json_type_string) && json_object_is_type(id, json_type_string) &&
		    strcmp(json_object_get_string(type), "Ip") == 0 && strcmp(json_object_get_string(id), address) == 0)
			return true;
	}
	return false;
}

int dcv_dnsmap_merge(const char *current, const struct dcv_host *const *agents, int n, struct dcv_buf *out)
{
	json_object *list = current && *current ? json_tokener_parse(current) : NULL;
	int added = 0;

	if (list && !json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		list = NULL;
	}
	if (!list)
		list = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object *m, *names;
		if (mapped(list, agents[i]->address))
			continue;
		m = json_object_new_object();
		names = json_object_new_object();
		json_object_object_add(m, "ServerIdType", json_object_new_string("Ip"));
		json_object_object_add(m, "ServerId", json_object_new_string(agents[i]->address));
		json_object_object_add(names, "InternalDnsName", json_object_new_string(agents[i]->address));
		json_object_object_add(m, "DnsNames", names);
		json_object_array_add(list, m);
		added++;
	}
	if (added) {
		dcv_buf_adds(out, json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		dcv_buf_addc(out, '\n');
	}
	json_object_put(list);
	return added;
}
