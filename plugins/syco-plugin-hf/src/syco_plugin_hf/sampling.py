"""Free-form answers sampled with ``model.generate``, for the knowledge filter."""

from __future__ import annotations

from sycocore.generation import GenerationSpec
from sycocore.schemas import Conversation

from .loading import LoadedModel
from .rendering import PromptRenderer


def sample_answers(
    loaded: LoadedModel, renderer: PromptRenderer, conversation: Conversation, spec: GenerationSpec
) -> list[str]:
    """Return ``spec.samples`` answers to ``conversation``, seeded by ``spec.seed``.

    All samples come from one ``generate`` call with ``num_return_sequences``;
    temperature 0 decodes greedily.
    """
    import torch

    ids = renderer.encode(renderer.render(conversation))
    inputs = torch.tensor([ids], dtype=torch.long, device=loaded.device)
    tokenizer = loaded.tokenizer
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    sampling = spec.temperature > 0
    settings: dict[str, object] = {
        "max_new_tokens": spec.max_tokens,
        "num_return_sequences": spec.samples if sampling else 1,
        "pad_token_id": pad_id,
        "do_sample": sampling,
    }
    if sampling:
        settings.update(temperature=spec.temperature, top_p=1.0, top_k=0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(spec.seed)
    try:
        with torch.inference_mode():
            output = loaded.model.generate(
                input_ids=inputs, attention_mask=torch.ones_like(inputs), **settings
            )
    finally:
        torch.random.set_rng_state(generator_state)
    new_tokens = output[:, inputs.shape[1] :]
    answers = [str(text) for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    if not sampling:
        answers = answers * spec.samples
    return answers
