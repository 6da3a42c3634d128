/* The configuration sluice runs with when started without --config: a newcomer's quickstart.
 * The one idea: it needs no API keys and no network; two local `sluice-mock` providers on
 * 127.0.0.1:18081 and :18082 serve group "demo" and, under the name clients most often try,
 * "gpt-4o-mini" (upstream model "mock-model"). It is ordinary config.yaml text, parsed by the
 * same loader as any user file, so it doubles as a working example. */
#include "core/config/config.h"

const char sl_config_default_yaml[] =
    "# sluice's built-in quickstart configuration (used when --config is not given).\n"
    "# Start two mock providers first:  sluice-mock --port 18081 & sluice-mock --port 18082 &\n"
    "model_list:\n"
    "  - model_name: demo\n"
    "    litellm_params:\n"
    "      model: openai/mock-model\n"
    "      api_base: http://127.0.0.1:18081/v1\n"
    "      api_key: sk-mock-not-a-secret\n"
    "  - model_name: demo\n"
    "    litellm_params:\n"
    "      model: openai/mock-model\n"
    "      api_base: http://127.0.0.1:18082/v1\n"
    "      api_key: sk-mock-not-a-secret\n"
    "  - model_name: gpt-4o-mini\n"
    "    litellm_params:\n"
    "      model: openai/mock-model\n"
    "      api_base: http://127.0.0.1:18081/v1\n"
    "      api_key: sk-mock-not-a-secret\n"
    "  - model_name: gpt-4o-mini\n"
    "    litellm_params:\n"
    "      model: openai/mock-model\n"
    "      api_base: http://127.0.0.1:18082/v1\n"
    "      api_key: sk-mock-not-a-secret\n"
    "\n"
    "sluice_settings:\n"
    "  listen: 127.0.0.1:4000\n";
